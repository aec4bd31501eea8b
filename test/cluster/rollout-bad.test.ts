import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { nodeUrl } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import {
  assertBootedOn,
  homecloud,
  LAB_ROLLOUT,
  labNodeSlots,
  labSignedRelease,
  publishTo,
  stampedImage,
  waitRollout,
} from '../support/rollout.js'

// A bad release (issue 14): its agent exits at start (a real build of this code with
// --test-exit-at-start). The canary worker tries it, runs out of tries, and the lab
// firmware boots its last good slot again by itself; the rollout halts, the release is
// marked bad cluster-wide, and no other node changed.

const V1 = '0.1.0-rollout.1'
const V3 = '0.1.0-rollout.3-bad'

describe('A/B rollout in a lab: a bad release', { timeout: 1_200_000 }, () => {
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('the canary comes back on 1 by itself, the rollout halts, nobody else changed', async () => {
    const i1 = await stampedImage(V1, { progress: say })
    const i3 = await stampedImage(V3, { testExitAtStart: true, progress: say })
    const lab = await startLab({
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      slots: true,
      imageDir: i1,
      agentConfig: { ...CP_CONFIG, rollout: LAB_ROLLOUT },
      timeoutMs: 240_000,
      progress: say,
    })
    await assertBootedOn(lab, V1)
    const v3 = await labSignedRelease(lab, i3, 'v3')
    await publishTo(lab, v3.dir, lab.nodes[0]!.name)
    await waitNodesHold(lab, v3.id, { timeoutMs: 300_000, progress: say })
    const before = new Map(
      await Promise.all(lab.nodes.map(async (n) => [n.name, await labNodeSlots(n)] as const)),
    )

    const start = await homecloud(lab, ['upgrade', 'start', V3, '--canary', '1'])
    assert.equal(start.exitCode, 0, start.stderr)
    const s = await waitRollout(lab, (s) => s.rollout?.phase === 'halted' && s.rollout.current === null, {
      timeoutMs: 600_000,
      progress: say,
    })
    const r = s.rollout!
    assert.match(r.halt?.reason ?? '', /came back on 0\.1\.0-rollout\.1 by itself/)
    assert.deepEqual(
      r.bad.map((b) => b.version),
      [V3],
    )
    const failed = Object.values(r.nodes).filter((o) => o.state === 'failed')
    assert.equal(failed.length, 1)
    const canary = lab.nodes.find((n) => n.name === failed[0]!.name)!
    assert.equal(canary.board, 'x86', 'the canary is a worker')
    const cs = await labNodeSlots(canary)
    assert.equal(cs.slots[cs.booted]?.version, V1)
    assert.equal(cs.lastFallback?.reason, 'tries-exhausted')
    for (const n of lab.nodes.filter((x) => x !== canary))
      assert.deepEqual(await labNodeSlots(n), before.get(n.name), `${n.name} untouched`)

    const status = await homecloud(lab, ['upgrade', 'status'])
    assert.match(status.stdout, /halted: .*came back on 0\.1\.0-rollout\.1 by itself/)
    // Every node's status page says so, a worker's too (it asks a voter).
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    await waitFor(
      async () => {
        const page = await (await fetch(nodeUrl(worker))).text()
        return /came back on 0\.1\.0-rollout\.1 by itself/.test(page) || 'the page does not say why yet'
      },
      { timeoutMs: 30_000 },
    )
    const again = await homecloud(lab, ['upgrade', 'start', V3])
    assert.notEqual(again.exitCode, 0)
    assert.match(again.stderr, /marked bad/)
  })
})
