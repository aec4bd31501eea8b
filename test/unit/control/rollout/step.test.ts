import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startRollout } from '../../../../control/rollout/admin.js'
import { orderedCandidates } from '../../../../control/rollout/order.js'
import type { RolloutBody } from '../../../../control/rollout/record.js'
import { nextRolloutStep } from '../../../../control/rollout/step.js'
import {
  type ObservedCluster,
  type RolloutDecision,
  rolloutPolicyDefault,
} from '../../../../control/rollout/types.js'
import { finished, pass, runUntil, start } from './drive.js'
import { sixNodes, v1, v2, v3, World } from './world.js'

const policy = { ...rolloutPolicyDefault, resendMs: 2_000, leaderStableMs: 3_000 }

function lockedOrder(w: World): string[] {
  return w.log.filter((l) => l.startsWith('take-lock')).map((l) => l.split(' ')[1] as string)
}

describe('nextRolloutStep', () => {
  it('moves every node to the new release, one at a time: canary worker, voters (coordinator last), workers', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    for (const n of w.nodes) {
      assert.equal(n.boot.slots[n.boot.good ?? 'a']?.releaseId, v2.id, `${n.name} committed on v2`)
      assert.equal(n.boot.booted, n.boot.good)
      assert.equal(n.unschedulable, false, `${n.name} uncordoned`)
    }
    assert.deepEqual(lockedOrder(w), ['x86-4', 'pi5-2', 'pi5-3', 'pi5-1', 'x86-5', 'x86-6'])
    assert.equal(w.cordonedMax, 1, 'never two nodes cordoned at once')
    assert.equal(w.lock.holder, null, 'the lock is released at the end')
    assert.deepEqual(w.current, { amd64: '2.0.0' })
    assert.ok(Object.values(w.record?.nodes ?? {}).every((o) => o.state === 'done'))
  })

  it('nodes that answer they have no boot slots are passed by: the rollout completes with the others', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const noSlots = (o: ObservedCluster): ObservedCluster => ({
      ...o,
      nodes: o.nodes.map((n) =>
        n.voter ? { ...n, slots: null, slotsError: 'this node has no boot slots', noSlots: true } : n,
      ),
    })
    for (let i = 0; i < 500 && !finished(w)(); i++) pass(w, noSlots)
    assert.equal(w.record?.phase, 'completed', w.record?.waiting ?? '')
    assert.deepEqual(lockedOrder(w), ['x86-4', 'x86-5', 'x86-6'])
    // Unreachable is not "no slots": such a node is waited for.
    const w2 = new World(sixNodes, policy)
    start(w2)
    const unreachable = (o: ObservedCluster): ObservedCluster => ({
      ...o,
      nodes: o.nodes.map((n) => (n.name === 'pi5-2' ? { ...n, slots: null, slotsError: 'ECONNREFUSED' } : n)),
    })
    for (let i = 0; i < 300; i++) pass(w2, unreachable)
    assert.equal(w2.record?.phase, 'running')
    assert.match(w2.record?.waiting ?? '', /pi5-2 \(ECONNREFUSED\)/)
  })

  it('moving Kubernetes puts every API server before any kubelet, whatever the canary', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const r = w.record as RolloutBody
    w.record = { ...r, target: { version: '2.0.0', releases: { amd64: { ...v2, kubernetes: 'v1.38.0' } } } }
    const order = orderedCandidates(w.observe(), w.record).map((n) => n.name)
    assert.deepEqual(order, ['pi5-2', 'pi5-3', 'pi5-1'], 'only voters are candidates while one is behind')
  })

  it('a bad release: the canary falls back by itself, the rollout halts, the release is bad, nobody else is touched', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, finished(w))
    w.badIds.add(v3.id)
    start(w, v3)
    runUntil(w, finished(w))
    const r = w.record as RolloutBody
    assert.equal(r.phase, 'halted')
    assert.match(r.halt?.reason ?? '', /3\.0\.0 failed on x86-4: .*came back on 2\.0\.0 by itself/)
    assert.deepEqual(
      r.bad.map((b) => b.id),
      [v3.id],
    )
    assert.equal(r.nodes.id3?.state, 'failed')
    const canary = w.node('x86-4')
    assert.equal(canary.boot.slots[canary.boot.booted ?? 'a']?.version, '2.0.0')
    assert.equal(canary.boot.lastFallback?.reason, 'tries-exhausted')
    assert.equal(canary.unschedulable, false, 'the canary is uncordoned again')
    for (const n of w.nodes.filter((x) => x.name !== 'x86-4'))
      assert.ok(!Object.values(n.boot.slots).some((s) => s?.releaseId === v3.id), `${n.name} untouched`)
    assert.equal(w.lock.holder, null)
    // Never retried until an admin says so.
    const again = startRollout(w.record, {
      clusterId: 'c1',
      spec: '3.0.0',
      canary: 1,
      retryBad: false,
      nowMs: w.nowMs,
      published: [{ ...v3, arch: 'amd64', publishedAtMs: 2 }],
      running: {},
    })
    assert.equal(again.ok, false)
    assert.match(again.ok ? '' : again.message, /marked bad/)
    // No pass changes anything more.
    assert.deepEqual(nextRolloutStep(w.observe(), w.record, policy).effects, [])
  })

  it('a node that boots but never passes its gate is sent back after the gate timeout, and the rollout halts', () => {
    const w = new World(sixNodes, { ...policy, gateTimeoutMs: 20_000 })
    start(w)
    // Its Node never turns Ready on v2.
    const sick = (o: ObservedCluster): ObservedCluster => ({
      ...o,
      nodes: o.nodes.map((n) =>
        n.name === 'x86-4' && n.version === '2.0.0' && n.kube
          ? { ...n, kube: { ...n.kube, ready: false } }
          : n,
      ),
    })
    for (let i = 0; i < 300 && !finished(w)(); i++) pass(w, sick)
    const r = w.record as RolloutBody
    assert.equal(r.phase, 'halted')
    assert.match(r.halt?.reason ?? '', /not healthy .* waited for Node Ready; sent back/)
    const n = w.node('x86-4')
    assert.equal(n.boot.slots[n.boot.booted ?? 'a']?.version, '1.0.0')
    assert.equal(n.boot.lastFallback?.reason, 'asked')
    assert.equal(r.nodes.id3?.state, 'failed')
  })

  it('a drain blocked past its timeout: uncordoned, skipped with the budget named, the rollout goes on', () => {
    const w = new World(sixNodes, policy)
    w.node('x86-4').pdbBlocks = 'blocked by PodDisruptionBudget default/web (default/web-1)'
    start(w)
    runUntil(w, finished(w))
    const r = w.record as RolloutBody
    assert.equal(r.nodes.id3?.state, 'skipped')
    assert.match(r.nodes.id3?.detail ?? '', /PodDisruptionBudget default\/web/)
    assert.equal(w.node('x86-4').unschedulable, false)
    assert.equal(w.node('x86-4').boot.slots.b, null, 'nothing installed on a skipped node')
    assert.equal(r.phase, 'completed')
    assert.equal(w.cordonedMax, 1)
  })

  it('waits while the lock is held by someone else, a Node is NotReady, etcd has no failure to spare, or the leader is new', () => {
    const w = new World(sixNodes, policy)
    start(w)
    w.lock.holder = 'cli:laptop:42'
    assert.match(pass(w).waiting ?? '', /lock is held by cli:laptop:42/)
    w.lock.holder = null
    w.node('x86-6').up = false
    assert.match(pass(w).waiting ?? '', /Node x86-6 NotReady/)
    w.node('x86-6').up = true
    w.votersHealthy = 2
    assert.match(pass(w).waiting ?? '', /no failure to spare: 2 of 3/)
    w.votersHealthy = null
    // The canary (a worker) is done; the next is a voter, which waits for a stable leader.
    runUntil(w, () => w.record?.nodes.id3?.state === 'done')
    w.leaderSinceMs = w.nowMs
    assert.match(pass(w).waiting ?? '', /leader changed less than 3 s ago/)
    w.nowMs += 3_000
    assert.ok(pass(w).effects.some((e) => e.kind === 'take-lock'))
  })

  it('a node back from a shutdown drain mid-rollout: the next node waits until it has undrained itself', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    // x86-6 drained itself to shut down and is back; its own undrain is refused while the
    // rollout holds x86-4 (the hold), so it is still cordoned when x86-4 is done.
    Object.assign(w.node('x86-6'), {
      unschedulable: true,
      cordonedByUs: true,
      drainStatus: 'drained',
      drainReason: 'shutdown',
    })
    runUntil(w, () => w.record?.nodes.id3?.state === 'done')
    const before = w.log.length
    for (let i = 0; i < 5; i++) pass(w)
    assert.equal(w.record?.current, null, 'no next node while x86-6 is cordoned')
    assert.equal(w.lock.holder, null, 'nor the lock: its self-undrain may take it now')
    assert.ok(!w.log.slice(before).some((l) => l.startsWith('take-lock')))
    assert.match(
      w.record?.waiting ?? '',
      /x86-6 is still cordoned by its shutdown drain: it undrains itself when back/,
    )
    // A person's drain is theirs: the rollout does not wait for it (as before).
    const admins = w.observe()
    const x6 = admins.nodes.find((n) => n.name === 'x86-6')!
    x6.kube = { ...x6.kube!, drainReason: 'admin' }
    assert.ok(nextRolloutStep(admins, w.record, policy).effects.some((e) => e.kind === 'take-lock'))
    // Its self-undrain went through: the rollout goes on, and ends with every node uncordoned.
    w.apply({ kind: 'undrain', node: 'x86-6' })
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    assert.ok(w.nodes.every((n) => !n.unschedulable))
  })

  it('a node still cordoned by its shutdown drain goes first within its group, and ends uncordoned', () => {
    const w = new World(sixNodes, policy)
    // x86-5 came back without undraining itself (a netbooted machine's marker is in RAM).
    Object.assign(w.node('x86-5'), {
      unschedulable: true,
      cordonedByUs: true,
      drainStatus: 'drained',
      drainReason: 'shutdown',
    })
    start(w)
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    // The canary is the cordoned worker (no second node cordoned meanwhile); voters keep their place.
    assert.deepEqual(lockedOrder(w), ['x86-5', 'pi5-2', 'pi5-3', 'pi5-1', 'x86-4', 'x86-6'])
    assert.equal(w.cordonedMax, 1)
    assert.ok(w.nodes.every((n) => !n.unschedulable))
  })

  it('records every transition before acting, and resends an order not taken only after resendMs', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.step === 'install')
    // The node's answer is lost (it did not install): the order goes out once, then waits.
    const lost = (o: ObservedCluster) => o
    const first = nextRolloutStep(lost(w.observe()), w.record, policy)
    assert.deepEqual(
      first.effects.map((e) => e.kind),
      ['record', 'order'],
    )
    w.record = (first.effects[0] as { body: RolloutBody }).body
    w.nowMs += 1_000
    assert.deepEqual(nextRolloutStep(w.observe(), w.record, policy).effects, [])
    w.nowMs += 1_500
    assert.ok(nextRolloutStep(w.observe(), w.record, policy).effects.some((e) => e.kind === 'order'))
  })

  it('a node unplugged during its gate frees the lock, and is upgraded when it comes back', () => {
    const w = new World(sixNodes, { ...policy, nodeGoneMs: 10_000 })
    start(w)
    runUntil(w, () => w.record?.current?.step === 'gate')
    const n = w.node('x86-4')
    n.up = false
    n.deadSinceMs = w.nowMs
    runUntil(w, () => w.record?.current === null)
    assert.equal(w.lock.holder, null, 'the lock is freed')
    assert.match(w.record?.waiting ?? '', /went away during its gate/)
    // The other nodes wait (its Node is NotReady); plugged in again it boots its tried slot.
    for (let i = 0; i < 5; i++) pass(w)
    assert.equal(w.record?.current, null)
    w.powerOn(n)
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    assert.equal(n.boot.slots[n.boot.good ?? 'a']?.releaseId, v2.id)
  })

  it('a new coordinator resumes from the record (no memory of the old one needed)', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'pi5-2' && w.record.current.step === 'gate')
    // The old coordinator's lock lapses with its lease.
    w.lock.holder = null
    const d = nextRolloutStep(w.observe('id1'), w.record, policy)
    assert.equal(d.effects[0]?.kind, 'take-lock', 'the node in progress is locked again first')
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
  })

  it('a previous coordinator that lost its seat but lives on keeps its lock alive: the next one takes it over', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'pi5-2' && w.record.current.step === 'gate')
    // The old coordinator (pi5-1) lost its seat under load and still runs: its lock keeper
    // renews the lease, so the lock never lapses (CI: "pi5-2: the cluster lock is held by rollout:…").
    w.lock = { holder: 'rollout:id0', node: 'pi5-2', token: 41 }
    const d = nextRolloutStep(w.observe('id2'), w.record, policy)
    assert.deepEqual(d.effects[0], { kind: 'take-over-lock', node: 'pi5-2', token: 41 })
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    assert.ok(w.log.includes('take-over-lock pi5-2'))
    assert.ok(Object.values(w.record?.nodes ?? {}).every((o) => o.state === 'done'))
  })

  it('a former coordinator’s lock kept between two nodes is taken over for the next one', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => Object.keys(w.record?.nodes ?? {}).length === 1 && w.record?.current === null)
    // It recorded x86-4 done and lost its seat before it released the lock.
    w.lock = { holder: 'rollout:id0', node: 'x86-4', token: 41 }
    const d = nextRolloutStep(w.observe('id2'), w.record, policy)
    assert.deepEqual(d.effects[0], { kind: 'take-over-lock', node: 'pi5-1', token: 41 }, d.waiting ?? '')
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'completed')
    // Anyone else's lock still holds the next node back.
    const x = new World(sixNodes, policy)
    start(x)
    runUntil(x, () => Object.keys(x.record?.nodes ?? {}).length === 1 && x.record?.current === null)
    x.lock = { holder: 'cli:laptop:42', node: 'x86-4', token: 41 }
    assert.match(nextRolloutStep(x.observe('id2'), x.record, policy).waiting ?? '', /held by cli:laptop:42/)
  })

  it('takes over only the rollout’s own lock for the node in progress, fenced on the token seen', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'pi5-2' && w.record.current.step === 'gate')
    const waits = (holder: string, node: string) => {
      w.lock = { holder, node, token: 7 }
      const d = nextRolloutStep(w.observe('id2'), w.record, policy)
      assert.ok(!d.effects.some((e) => e.kind.endsWith('lock')), `${holder} for ${node}: ${d.waiting}`)
      assert.match(d.waiting ?? '', new RegExp(`lock is held by ${holder}`))
    }
    waits('cli:laptop:42', 'pi5-2') // an admin's drain of the same node
    waits('node:id3', 'pi5-2') // a node's own shutdown drain
    waits('rollout:id0', 'pi5-3') // a rollout lock for another node: not this step's
    // The lock changed between the look and the take-over: nothing is broken, the next pass looks again.
    w.lock = { holder: 'rollout:id0', node: 'pi5-2', token: 7 }
    const d = nextRolloutStep(w.observe('id2'), w.record, policy)
    w.lock.token = 8
    assert.throws(() => w.apply(d.effects[0]!), /LOCK_HELD/)
    assert.equal(w.lock.holder, 'rollout:id0')
  })

  it('pause finishes the node in progress and starts no other; resume goes on; abort ends it', async () => {
    const { pauseRollout, resumeRollout, abortRollout } = await import('../../../../control/rollout/admin.js')
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.step === 'install')
    const p = pauseRollout(w.record)
    assert.ok(p.ok)
    w.record = p.body
    runUntil(w, () => w.record?.current === null)
    for (let i = 0; i < 5; i++) pass(w)
    assert.equal(w.record?.current, null)
    assert.equal(Object.keys(w.record?.nodes ?? {}).length, 1)
    const q = resumeRollout(w.record)
    assert.ok(q.ok)
    w.record = q.body
    runUntil(w, () => Object.keys(w.record?.nodes ?? {}).length === 2)
    const a = abortRollout(w.record)
    assert.ok(a.ok)
    w.record = a.body
    runUntil(w, finished(w))
    assert.equal(w.record?.phase, 'aborted')
    assert.equal(w.cordonedMax, 1)
  })

  it('a node with no release for its architecture is skipped, named', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const d = nextRolloutStep(
      {
        ...w.observe(),
        nodes: w
          .observe()
          .nodes.map((n) =>
            n.name === 'x86-5' && n.slots ? { ...n, slots: { ...n.slots, arch: 'arm64' } } : n,
          ),
      },
      w.record,
      policy,
    )
    const body = (d.effects.find((e) => e.kind === 'record') as { body: RolloutBody }).body
    assert.match(body.nodes.id4?.detail ?? '', /no release for arm64/)
  })

  it('nodes already on the target are not touched', () => {
    const w = new World(sixNodes, policy)
    start(w, v1)
    const d = nextRolloutStep(w.observe(), w.record, policy)
    assert.deepEqual(
      d.effects.map((e) => e.kind),
      ['set-current', 'record'],
    )
  })
})
