import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatPlan, planDrain } from '../../../../control/drain/plan.js'
import { pdb, pod } from './fixtures.js'

const names = (xs: { name: string }[]) => xs.map((x) => x.name)

describe('planDrain', () => {
  it('evicts managed pods of the node only, in a stable order', () => {
    const p = planDrain('w1', [pod('b'), pod('a'), pod('other', { node: 'w2' })], [], { force: false })
    assert.deepEqual(names(p.evict), ['a', 'b'])
    assert.equal(p.evict[0]!.owner, 'ReplicaSet/web-1')
    assert.deepEqual(p.refusals, [])
    assert.deepEqual(p.blockers, [])
  })

  it('leaves DaemonSet, mirror and terminating pods alone', () => {
    const p = planDrain(
      'w1',
      [
        pod('ds', { owner: { kind: 'DaemonSet', name: 'agent' } }),
        pod('static', { owner: { kind: 'Node', name: 'w1' }, mirror: true }),
        pod('going', { terminating: true }),
        pod('web'),
      ],
      [],
      { force: false },
    )
    assert.deepEqual(names(p.evict), ['web'])
    assert.deepEqual(
      p.skipped.map((s) => [s.name, s.reason]),
      [
        ['ds', 'daemonset'],
        ['going', 'terminating'],
        ['static', 'mirror'],
      ],
    )
  })

  it('refuses unmanaged pods unless forced, and then evicts them with a warning', () => {
    const bare = pod('bare', { owner: null })
    const refused = planDrain('w1', [bare, pod('web')], [], { force: false })
    assert.deepEqual(names(refused.unmanaged), ['bare'])
    assert.deepEqual(names(refused.evict), ['web'])
    assert.match(refused.refusals[0]!, /default\/bare has no controller/)
    const forced = planDrain('w1', [bare, pod('web')], [], { force: true })
    assert.deepEqual(forced.refusals, [])
    assert.deepEqual(names(forced.evict), ['bare', 'web'])
    assert.ok(forced.warnings.some((w) => /bare has no controller/.test(w)))
  })

  it('a finished unmanaged pod is no reason to refuse', () => {
    const p = planDrain('w1', [pod('job', { owner: null, phase: 'Succeeded' })], [], { force: false })
    assert.deepEqual(p.refusals, [])
    assert.deepEqual(names(p.evict), ['job'])
  })

  it('flags emptyDir data', () => {
    const p = planDrain('w1', [pod('cache', { emptyDir: true })], [], { force: false })
    assert.equal(p.evict[0]!.emptyDir, true)
    assert.match(p.warnings[0]!, /emptyDir/)
  })

  it('a budget with disruptions to spare is no blocker; one with none is, named', () => {
    const ok = planDrain('w1', [pod('web')], [pdb('web-pdb', { allowed: 1 })], { force: false })
    assert.deepEqual(ok.blockers, [])
    assert.deepEqual(ok.evict[0]!.pdbs, ['default/web-pdb'])
    const zero = planDrain('w1', [pod('web')], [pdb('web-pdb', { allowed: 0 })], { force: false })
    assert.equal(zero.blockers.length, 1)
    assert.equal(zero.blockers[0]!.pdb, 'default/web-pdb')
    assert.equal(zero.blockers[0]!.reason, 'zero-budget')
    assert.deepEqual(zero.blockers[0]!.pods, ['default/web'])
  })

  it('a single replica behind a budget is reported as such', () => {
    const p = planDrain(
      'w1',
      [pod('db', { labels: { app: 'db' } })],
      [pdb('db', { matchLabels: { app: 'db' }, allowed: 0, expected: 1 })],
      {
        force: false,
      },
    )
    assert.equal(p.blockers[0]!.reason, 'single-replica')
  })

  it('budgets match by namespace and selector (matchExpressions too); an empty selector matches all', () => {
    const pods = [
      pod('a', { ns: 'x', labels: { tier: 'db' } }),
      pod('b', { ns: 'y', labels: { tier: 'db' } }),
    ]
    const expr = pdb('by-expr', {
      ns: 'x',
      allowed: 0,
      selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'cache'] }] },
    })
    const p = planDrain('w1', pods, [expr], { force: false })
    assert.deepEqual(p.evict.find((e) => e.name === 'a')!.pdbs, ['x/by-expr'])
    assert.deepEqual(p.evict.find((e) => e.name === 'b')!.pdbs, [])
    const all = planDrain('w1', pods, [pdb('all', { ns: 'y', allowed: 2, selector: {} })], { force: false })
    assert.deepEqual(all.evict.find((e) => e.name === 'b')!.pdbs, ['y/all'])
    const notIn = pdb('not-db', {
      ns: 'x',
      allowed: 0,
      selector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
    })
    assert.deepEqual(planDrain('w1', pods, [notIn], { force: false }).blockers, [])
  })

  it('a pod under two budgets is a blocker (the Eviction API refuses it)', () => {
    const p = planDrain('w1', [pod('web')], [pdb('a', { allowed: 1 }), pdb('b', { allowed: 1 })], {
      force: false,
    })
    assert.equal(p.blockers[0]!.reason, 'multiple-pdbs')
    assert.equal(p.blockers[0]!.pdb, 'default/a + default/b')
  })

  it('groups the pods a blocking budget holds', () => {
    const p = planDrain('w1', [pod('w-1'), pod('w-2')], [pdb('web', { allowed: 0 })], { force: false })
    assert.deepEqual(p.blockers[0]!.pods, ['default/w-1', 'default/w-2'])
  })

  it('prints every finding', () => {
    const p = planDrain(
      'w1',
      [pod('web'), pod('bare', { owner: null }), pod('ds', { owner: { kind: 'DaemonSet', name: 'd' } })],
      [pdb('web-pdb', { allowed: 0 })],
      { force: false },
    )
    const text = formatPlan(p).join('\n')
    assert.match(text, /evict {2}default\/web \(ReplicaSet\/web-1\) budget default\/web-pdb/)
    assert.match(text, /leave {2}default\/ds \(daemonset\)/)
    assert.match(text, /refuse default\/bare/)
    assert.match(text, /blocked by PodDisruptionBudget default\/web-pdb/)
    assert.equal(formatPlan(planDrain('w1', [], [], { force: false }))[1], '  nothing to evict')
  })
})
