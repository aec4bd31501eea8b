import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startRollout } from '../../../../control/rollout/admin.js'
import type { RolloutBody, TargetRelease } from '../../../../control/rollout/record.js'
import { nextRolloutStep } from '../../../../control/rollout/step.js'
import { rolloutPolicyDefault } from '../../../../control/rollout/types.js'
import { finished, runUntil, start } from './drive.js'
import { sixNodes, v2, v3, World } from './world.js'

const mac = '52:54:00:5e:00:07'

describe('the rollout follows a netbooted machine across its reboots (new id each boot)', () => {
  const netbooted = () => {
    const w = new World(sixNodes, { ...rolloutPolicyDefault, resendMs: 2000, leaderStableMs: 3000 })
    const canary = w.node('x86-4')
    canary.netbooted = { mac, boots: 0 }
    return { w, canary }
  }

  it('a good release: the canary reboots as a new member, passes its gate there and commits; no ghost waits', () => {
    const { w, canary } = netbooted()
    start(w, v2)
    runUntil(w, finished(w))
    const r = w.record as RolloutBody
    assert.equal(r.phase, 'completed', r.waiting ?? '')
    assert.equal(canary.id, 'x86-4#1', 'one reboot, one new member')
    assert.equal(canary.boot.slots[canary.boot.good ?? 'a']?.releaseId, v2.id)
    assert.ok(w.log.includes('order commit x86-4#1'), 'the commit went to the member that booted v2')
    assert.equal(r.nodes['x86-4#1']?.state, 'done')
    assert.equal(r.nodes.id3, undefined, 'the former member is not a node of its own')
    assert.equal(w.observe().nodes.length, 6)
  })

  it('a bad release: the canary falls back after its tries, comes back as a new member; the rollout halts', () => {
    const { w, canary } = netbooted()
    w.badIds.add(v3.id)
    start(w, v3)
    runUntil(w, finished(w))
    const r = w.record as RolloutBody
    assert.equal(r.phase, 'halted')
    assert.match(r.halt?.reason ?? '', /failed on x86-4: .*came back on 1\.0\.0 by itself/)
    assert.equal(r.nodes[canary.id]?.state, 'failed')
    assert.equal(canary.boot.lastFallback?.reason, 'tries-exhausted')
    for (const n of w.nodes.filter((x) => x !== canary))
      assert.ok(!Object.values(n.boot.slots).some((s) => s?.releaseId === v3.id), `${n.name} untouched`)
  })
})
