import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { renderStatusPage } from '../../../../agent/api/page/document.js'
import { summarize } from '../../../../agent/components/rollout-view.js'
import type { UpgradeAnswer } from '../../../../agent/components/upgrade-routes.js'
import { formatUpgrade } from '../../../../cli/commands/upgrade.js'
import { clusterView, NOW } from '../api/fixtures.js'

const id = (c: string) => c.repeat(64)
const halted: UpgradeAnswer = {
  rollout: {
    v: 1,
    id: 'r1',
    clusterId: 'c1',
    version: 9,
    phase: 'halted',
    canary: 1,
    target: { version: '3', releases: { amd64: { id: id('3'), version: '3' } } },
    startedAtMs: 1,
    current: null,
    nodes: { n4: { name: 'x86-4', state: 'failed', atMs: 2, detail: 'it came back on 2 by itself' } },
    bad: [{ id: id('3'), version: '3', node: 'x86-4', reason: 'it came back on 2 by itself', atMs: 2 }],
    halt: { node: 'x86-4', reason: '3 failed on x86-4: it came back on 2 by itself <b>', atMs: 2 },
    waiting: null,
  } as unknown as UpgradeAnswer['rollout'],
  nodes: [
    {
      name: 'x86-4',
      version: '2',
      alive: true,
      slots: { booted: 'a', committed: true } as never,
      step: null,
      outcome: 'failed: it came back on 2 by itself',
    },
    { name: 'pi5-1', version: '2', alive: true, slots: null, step: null, outcome: null },
  ],
}

describe('the rollout on the status page', () => {
  test('a halted rollout: phase, why (escaped), the bad release, each node version, slot and outcome', () => {
    const s = summarize(halted)!
    assert.equal(s.phase, 'halted')
    assert.equal(s.nodes[0]?.slot, 'a (committed)')
    const html = renderStatusPage(clusterView({ rollout: s }), NOW)
    const section = /<section id="rollout"[\s\S]*?<\/section>/.exec(html)?.[0] ?? ''
    assert.match(section, /Halted: 3 failed on x86-4: it came back on 2 by itself &lt;b&gt;/)
    assert.match(section, /3 marked bad on x86-4/)
    assert.match(section, /<td>x86-4<\/td><td>2<\/td><td>a \(committed\)<\/td>/)
  })

  test('no rollout: no section', () => {
    assert.equal(summarize({ rollout: null, nodes: [] }), null)
    assert.doesNotMatch(renderStatusPage(clusterView(), NOW), /id="rollout"/)
  })

  test('the node in progress and what it waits for', () => {
    const running = {
      ...halted,
      rollout: {
        ...halted.rollout!,
        phase: 'running',
        halt: null,
        current: { node: 'n1', name: 'pi5-1', arch: 'amd64', step: 'gate', startedAtMs: 1, stepSinceMs: 5 },
        waiting: 'pi5-1: health gate waits for Node Ready',
      },
    } as UpgradeAnswer
    const html = renderStatusPage(clusterView({ rollout: summarize(running)! }), NOW)
    assert.match(html, /running<\/strong> to 3 — pi5-1: gate/)
    assert.match(html, /Waiting: pi5-1: health gate waits for Node Ready/)
  })
})

describe('the cluster lock beside the rollout', () => {
  const held = {
    ...halted,
    lock: {
      key: null,
      hold: { node: 'pi5-1', step: 'reboot', sinceMs: 1 },
      summary: 'held by the rollout for pi5-1 (step reboot): its key is free while no coordinator holds it',
    },
  } as UpgradeAnswer

  test('upgrade status prints it', () => {
    assert.ok(formatUpgrade(held).includes(`cluster lock: ${held.lock!.summary}`))
    // A voter older than the lock view sends none: nothing printed, nothing made up.
    assert.ok(!formatUpgrade(halted).some((l) => l.startsWith('cluster lock')))
  })

  test('the status page shows it', () => {
    const html = renderStatusPage(clusterView({ rollout: summarize(held)! }), NOW)
    assert.match(html, /Cluster lock: held by the rollout for pi5-1 \(step reboot\)/)
  })
})
