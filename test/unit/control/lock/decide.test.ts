import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mayTakeLock } from '../../../../control/lock/decide.js'
import { describeHolder, parseLockRecord } from '../../../../control/lock/record.js'

const healthy = { healthy: 3, total: 3, target: 3 }
const nodes = (...states: [string, boolean][]) => states.map(([name, ready]) => ({ name, ready }))

describe('mayTakeLock', () => {
  it('allows a healthy cluster', () => {
    assert.deepEqual(
      mayTakeLock({ node: 'w1', nodes: nodes(['w1', true], ['w2', true]), voters: healthy, force: false }),
      {
        ok: true,
        overridden: [],
      },
    )
  })

  it('refuses while another node is NotReady, but not for the target itself', () => {
    const d = mayTakeLock({
      node: 'w1',
      nodes: nodes(['w1', true], ['w2', false], ['w3', false]),
      voters: healthy,
      force: false,
    })
    assert.deepEqual(d, { ok: false, reasons: ['nodes w2, w3 NotReady'] })
    assert.equal(
      mayTakeLock({ node: 'w2', nodes: nodes(['w1', true], ['w2', false]), voters: healthy, force: false })
        .ok,
      true,
    )
  })

  it('a node that left for good (revoked) refuses nothing with its NotReady Node', () => {
    const d = mayTakeLock({
      node: 'w1',
      nodes: [
        { name: 'w1', ready: true },
        { name: 'w2', ready: false, left: 'revoked' },
        { name: 'w3', ready: false },
      ],
      voters: healthy,
      force: false,
    })
    assert.deepEqual(d, { ok: false, reasons: ['node w3 NotReady'] })
    assert.equal(
      mayTakeLock({
        node: 'w1',
        nodes: [
          { name: 'w1', ready: true },
          { name: 'w2', ready: false, left: 'revoked' },
        ],
        voters: healthy,
        force: false,
      }).ok,
      true,
    )
  })

  it('refuses when etcd has no failure to spare', () => {
    const d = mayTakeLock({
      node: 'w1',
      nodes: [],
      voters: { healthy: 2, total: 3, target: 3 },
      force: false,
    })
    assert.deepEqual(d, { ok: false, reasons: ['etcd has no failure to spare: 2 of 3 voters healthy'] })
    // Placement wants 3 but only 2 are members yet: still none to spare.
    assert.equal(
      mayTakeLock({ node: 'w1', nodes: [], voters: { healthy: 2, total: 2, target: 3 }, force: false }).ok,
      false,
    )
    // A one-board cluster is never refused for being one board.
    assert.equal(
      mayTakeLock({ node: 'w1', nodes: [], voters: { healthy: 1, total: 1, target: 1 }, force: false }).ok,
      true,
    )
  })

  it('force overrides, and says what it overrode', () => {
    const d = mayTakeLock({
      node: 'w1',
      nodes: nodes(['w2', false]),
      voters: { healthy: 1, total: 3, target: 3 },
      force: true,
    })
    assert.equal(d.ok, true)
    assert.equal(d.ok && d.overridden.length, 2)
  })
})

describe('mayTakeLock: the rollout’s hold', () => {
  const hold = { ok: true as const, hold: { node: 'w2', step: 'gate', sinceMs: 1 } }

  it('refuses any other operation while a rollout has a node in progress, that node’s own included', () => {
    const d = mayTakeLock({ node: 'w1', nodes: [], voters: healthy, rollout: hold, force: false })
    assert.deepEqual(d, {
      ok: false,
      reasons: [
        'a rollout is upgrading w2 (step gate): it holds the cluster lock until w2 is back, committed and uncordoned, or stays away its lease',
      ],
    })
    const own = mayTakeLock({ node: 'w2', nodes: [], voters: healthy, rollout: hold, force: false })
    assert.equal(own.ok, false)
    assert.match(own.ok ? '' : own.reasons[0]!, /until it is back/)
  })

  it('allows once the rollout holds nothing (or was not looked at)', () => {
    const free = { ok: true as const, hold: null }
    assert.equal(
      mayTakeLock({ node: 'w1', nodes: [], voters: healthy, rollout: free, force: false }).ok,
      true,
    )
    assert.equal(mayTakeLock({ node: 'w1', nodes: [], voters: healthy, force: false }).ok, true)
  })

  it('refuses on an unreadable record (what it holds is unknown), and force overrides with the reason named', () => {
    const bad = { ok: false as const, error: '/homecloud/rollout is not JSON' }
    const d = mayTakeLock({ node: 'w1', nodes: [], voters: healthy, rollout: bad, force: false })
    assert.deepEqual(d, {
      ok: false,
      reasons: [
        'the rollout record is unreadable (/homecloud/rollout is not JSON), so what it disrupts is unknown',
      ],
    })
    const f = mayTakeLock({ node: 'w1', nodes: [], voters: healthy, rollout: hold, force: true })
    assert.equal(f.ok && f.overridden.length, 1)
  })
})

describe('lock record', () => {
  it('parses what it wrote and refuses anything else', () => {
    const r = { v: 1, holder: 'cli:h:1', operation: 'drain', node: 'w1', sinceMs: 1000, lease: 'abc' }
    assert.deepEqual(parseLockRecord(JSON.stringify(r)), r)
    assert.equal(parseLockRecord('{"v":2}'), undefined)
    assert.equal(parseLockRecord('not json'), undefined)
    assert.equal(
      describeHolder(parseLockRecord(JSON.stringify(r)), 31_000),
      'cli:h:1 (drain of w1, for 30 s)',
    )
  })
})
