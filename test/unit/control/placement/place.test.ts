import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WAIT } from '../../../../control/placement/next-action.js'
import { placeControlPlane } from '../../../../control/placement/place.js'
import type { MemberSet, NodeView } from '../../../../control/placement/types.js'
import { board, dead, GRACE, members, NOW, policy } from './support.js'

const place = (nodes: NodeView[], current: MemberSet, quorum = true, p = policy) =>
  placeControlPlane(nodes, current, p, NOW, quorum)

// Boards ranked a > b > c > d > e by memory, so expectations read alphabetically.
const ranked = (id: string, i: number) => board(id, { memoryMB: 16384 - i * 1024 })
const boards = (ids: string) => [...ids].map(ranked)

describe('placement: voter count', () => {
  it('1 voter with 1 or 2 eligible boards, 3 with 3 or more, never 2', () => {
    assert.deepEqual(place(boards('a'), members(['a'])).target, ['a'])
    assert.deepEqual(place(boards('ab'), members(['a'])).target, ['a'])
    assert.deepEqual(place(boards('abc'), members(['a'])).target, ['a', 'b', 'c'])
    assert.deepEqual(place(boards('abcde'), members(['a'])).target, ['a', 'b', 'c'])
  })

  it('counts only eligible boards: 3 boards with one riscv64 stay at 1 voter', () => {
    const nodes = [...boards('ab'), board('x', { arch: 'riscv64' })]
    const p = place(nodes, members(['a']))
    assert.deepEqual(p.target, ['a'])
    assert.deepEqual(p.next, { kind: 'none' })
    assert.deepEqual(p.reasons.x, { eligible: false, chosen: false, why: 'refused: riscv64 not eligible' })
  })

  it('without fallback architectures, 3 boards with one amd64 stay at 1 voter', () => {
    const nodes = [...boards('ab'), board('x', { arch: 'amd64' })]
    const p = place(nodes, members(['a']), true, { ...policy, fallbackArchs: [] })
    assert.deepEqual(p.target, ['a'])
    assert.deepEqual(p.fallback, [])
    assert.deepEqual(p.reasons.x, { eligible: false, chosen: false, why: 'refused: amd64 not eligible' })
  })

  it('a widened policy makes amd64 boards count', () => {
    const nodes = [...boards('ab'), board('x', { arch: 'amd64', memoryMB: 1024 })]
    const p = place(nodes, members(['a']), true, { ...policy, eligibleArchs: ['arm64', 'arm', 'amd64'] })
    assert.deepEqual(p.target, ['a', 'b', 'x'])
  })

  it('honours a votersTarget of 5 (and 3 while only 3 or 4 are eligible)', () => {
    const p5 = { ...policy, votersTarget: 5 }
    assert.deepEqual(place(boards('abcd'), members(['a', 'b', 'c']), true, p5).target, ['a', 'b', 'c'])
    assert.deepEqual(place(boards('abcdef'), members(['a', 'b', 'c']), true, p5).target, [
      'a',
      'b',
      'c',
      'd',
      'e',
    ])
  })

  it('with no voters yet, proposes the best board but waits for the founder', () => {
    const p = place(boards('ab'), members([]))
    assert.deepEqual(p.target, ['a'])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.noVoters })
  })
})

describe('placement: growth 1 -> 3, one change at a time', () => {
  it('adds the best-ranked board as a learner', () => {
    const p = place(boards('abcd'), members(['c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'add-learner', id: 'a' })
    assert.equal(p.reasons.a?.why, 'chosen: ranked 1st, adding next')
    assert.equal(p.reasons.b?.why, 'chosen: ranked 2nd')
    assert.equal(p.reasons.c?.why, 'voter (sticky)')
    assert.deepEqual(p.reasons.d, { eligible: true, chosen: false, why: 'spare: ranked 4th' })
  })

  it('waits while the learner catches up, then promotes it', () => {
    assert.deepEqual(place(boards('abc'), members(['c'], ['a'])).next, {
      kind: 'wait',
      reason: WAIT.learnerCatchingUp,
      id: 'a',
    })
    const p = place(boards('abc'), members(['c'], ['a'], ['a']))
    assert.deepEqual(p.next, { kind: 'promote', id: 'a' })
    assert.equal(p.reasons.a?.why, 'learner: caught up, promote next')
  })

  it('adds the next learner only after the first is promoted', () => {
    assert.deepEqual(place(boards('abc'), members(['a', 'c'])).next, { kind: 'add-learner', id: 'b' })
  })

  it('does nothing once the target is reached', () => {
    assert.deepEqual(place(boards('abcd'), members(['a', 'b', 'c'])).next, { kind: 'none' })
  })

  it('keeps a 2-voter cluster (mid-growth) growing when a third board exists', () => {
    assert.deepEqual(place(boards('abc'), members(['a', 'b'])).next, { kind: 'add-learner', id: 'c' })
  })
})

describe('placement: stickiness', () => {
  it('a voter that is alive stays even if better boards arrive', () => {
    const nodes = [...boards('abc'), board('z', { memoryMB: 65536 })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'none' })
    assert.equal(p.reasons.z?.why, 'spare: ranked 1st')
  })

  it('the founder stays the single voter when a better second board arrives', () => {
    const nodes = [board('a', { memoryMB: 1024, storageClass: 'emmc' }), board('b', { memoryMB: 65536 })]
    const p = place(nodes, members(['a']))
    assert.deepEqual(p.target, ['a'])
    assert.deepEqual(p.next, { kind: 'none' })
  })

  it('a suspect voter stays', () => {
    const nodes = [...boards('abd'), board('c', { state: 'suspect' })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'none' })
    assert.equal(p.reasons.c?.why, 'voter (sticky): suspect')
  })

  it('an in-flight learner wins over a returning ex-voter', () => {
    // c died, was removed, d was added as its replacement; now c is back.
    const nodes = [...boards('abc'), board('d', { memoryMB: 1024 })]
    const p = place(nodes, members(['a', 'b'], ['d']))
    assert.deepEqual(p.target, ['a', 'b', 'd'])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.learnerCatchingUp, id: 'd' })
    assert.equal(p.reasons.c?.why, 'spare: ranked 3rd')
  })
})

describe('placement: failover', () => {
  it('a dead voter within grace is not replaced (flapping)', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), GRACE - 1)]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.deadVoterWithinGrace, id: 'c' })
    assert.equal(p.reasons.c?.why, 'voter (sticky): down 29 s of 30 s grace')
    assert.equal(p.reasons.c?.eligible, false)
  })

  it('exactly at the grace still counts as within', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), GRACE)]
    assert.equal(place(nodes, members(['a', 'b', 'c'])).next.kind, 'wait')
  })

  it('a voter dead beyond grace is removed before its replacement is added', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), GRACE + 5000)]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'd'])
    assert.deepEqual(p.next, { kind: 'remove', id: 'c', reason: 'voter dead beyond grace' })
    assert.equal(p.reasons.c?.why, 'voter, leaving: dead 35 s, past the 30 s grace')
    assert.equal(p.reasons.d?.why, 'chosen: ranked 3rd')
    // after the removal: add the replacement
    const after = place(nodes, members(['a', 'b']))
    assert.deepEqual(after.next, { kind: 'add-learner', id: 'd' })
  })

  it('uses the custom failover grace', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), 10_000)]
    assert.equal(
      place(nodes, members(['a', 'b', 'c']), true, { ...policy, failoverGraceMs: 5000 }).next.kind,
      'remove',
    )
  })

  it('never replaces a down voter whose down-time is unknown', () => {
    const nodes = [...boards('abd'), board('c', { alive: false, state: 'dead', deadSinceMs: null })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.equal(p.next.kind, 'wait')
    assert.match(p.reasons.c?.why ?? '', /since unknown/)
  })

  it('a voter the mesh does not know is treated as briefly down, not removed', () => {
    const p = place(boards('abd'), members(['a', 'b', 'ghost']))
    assert.deepEqual(p.target, ['a', 'b', 'ghost'])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.deadVoterWithinGrace, id: 'ghost' })
    assert.deepEqual(p.reasons.ghost, {
      eligible: false,
      chosen: true,
      why: 'voter (sticky): unknown to the mesh, treated as down',
    })
  })

  it('removes the longest-dead voter first when several are', () => {
    const nodes = [...boards('abcde'), dead(ranked('x', 0), GRACE + 1), dead(ranked('y', 0), GRACE + 9)]
    const p = place(nodes, members(['a', 'b', 'c', 'x', 'y']))
    assert.deepEqual(p.next, { kind: 'remove', id: 'y', reason: 'voter dead beyond grace' })
  })
})

describe('placement: never 2 by choice, but never shrink to 1 either', () => {
  it('keeps 2 voters when a third dies and no replacement exists', () => {
    const nodes = [...boards('ab'), dead(ranked('c', 2), GRACE + 1)]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b'])
    assert.deepEqual(p.next, { kind: 'remove', id: 'c', reason: 'voter dead beyond grace' })
    // Once it is gone, 2 stay: shrinking to 1 would throw away the second copy of the data.
    const after = place(nodes, members(['a', 'b']))
    assert.deepEqual(after.target, ['a', 'b'])
    assert.deepEqual(after.next, { kind: 'none' })
  })

  it('grows back to 3 when a board arrives', () => {
    assert.deepEqual(place(boards('abc'), members(['a', 'b'])).next, { kind: 'add-learner', id: 'c' })
  })

  it('shrinks 4 voters to 3 by removing the lowest-ranked one', () => {
    const p = place(boards('abcd'), members(['a', 'b', 'c', 'd']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'remove', id: 'd', reason: 'voter not needed' })
    assert.equal(p.reasons.d?.why, 'voter, leaving: surplus (4 voters > 3)')
  })

  it('shrinking 4 -> 3 drops a down voter before a healthy one', () => {
    const nodes = [...boards('bcd'), dead(ranked('a', 0), 1000)]
    const p = place(nodes, members(['a', 'b', 'c', 'd']))
    assert.deepEqual(p.target, ['b', 'c', 'd'])
    assert.deepEqual(p.next, { kind: 'remove', id: 'a', reason: 'voter not needed' })
  })

  it('never removes the last voter, even a revoked one', () => {
    const p = place([board('a', { revoked: true })], members(['a']))
    assert.deepEqual(p.target, [])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.lastVoter, id: 'a' })
  })

  it('keeps a lone voter that is not eligible (e.g. a riscv64 founder) when nothing else exists', () => {
    const p = place([board('a', { arch: 'riscv64' })], members(['a']))
    assert.deepEqual(p.target, ['a'])
    assert.deepEqual(p.next, { kind: 'none' })
    assert.equal(p.reasons.a?.why, 'voter (kept: no replacement yet): riscv64 not eligible')
  })
})

describe('placement: voters that become ineligible', () => {
  it('an opted-out voter is replaced make-before-break', () => {
    const nodes = [...boards('abd'), ranked('c', 2)]
    nodes[3] = { ...nodes[3]!, optedOut: true }
    const steps = [
      [members(['a', 'b', 'c']), { kind: 'add-learner', id: 'd' }],
      [members(['a', 'b', 'c'], ['d'], ['d']), { kind: 'promote', id: 'd' }],
      [members(['a', 'b', 'c', 'd']), { kind: 'remove', id: 'c', reason: 'voter not eligible: opted out' }],
      [members(['a', 'b', 'd']), { kind: 'none' }],
    ] as const
    for (const [m, want] of steps) assert.deepEqual(place(nodes, m).next, want)
    assert.equal(place(nodes, members(['a', 'b', 'c'])).reasons.c?.why, 'voter, leaving: opted out')
  })

  it('an opted-out voter with no replacement is kept (3 voters beat 2)', () => {
    const nodes = [...boards('ab'), board('c', { optedOut: true })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'none' })
    assert.deepEqual(p.reasons.c, {
      eligible: false,
      chosen: true,
      why: 'voter (kept: no replacement yet): opted out',
    })
  })

  it('an SD card voter failing the probe is replaced when a better board exists', () => {
    const nodes = [...boards('abd'), board('c', { storageClass: 'sd', fsyncP99Ms: 42 })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.next, { kind: 'add-learner', id: 'd' })
    assert.equal(p.reasons.c?.why, 'voter, leaving: SD card fsync p99 42 ms > 10 ms')
  })

  it('a revoked voter leaves at once when that is safe', () => {
    const nodes = [...boards('abd'), board('c', { revoked: true })]
    const p = place(nodes, members(['a', 'b', 'c']))
    assert.deepEqual(p.next, { kind: 'remove', id: 'c', reason: 'voter revoked' })
    assert.equal(p.reasons.c?.why, 'voter, leaving: revoked')
  })

  it('a revoked voter whose removal would lose quorum leaves after its replacement is in', () => {
    // a revoked but up, b up, c down within grace: removing a would leave b, c with only b up.
    const nodes = [board('a', { revoked: true }), ranked('b', 1), dead(ranked('c', 2), 1000), ranked('d', 3)]
    assert.deepEqual(place(nodes, members(['a', 'b', 'c'])).next, { kind: 'add-learner', id: 'd' })
    assert.deepEqual(place(nodes, members(['a', 'b', 'c', 'd'])).next, {
      kind: 'remove',
      id: 'a',
      reason: 'voter revoked',
    })
    // without a replacement, it waits
    const stuck = nodes.slice(0, 3)
    assert.deepEqual(place(stuck, members(['a', 'b', 'c'])).next, {
      kind: 'wait',
      reason: WAIT.removalLosesQuorum,
      id: 'a',
    })
  })
})

describe('placement: learners', () => {
  it('removes a learner dead beyond grace first', () => {
    const nodes = [...boards('abcd'), dead(ranked('e', 0), GRACE + 1)]
    const p = place(nodes, members(['a', 'b'], ['e']))
    assert.deepEqual(p.next, { kind: 'remove', id: 'e', reason: 'learner dead beyond grace' })
    assert.equal(p.reasons.e?.why, 'learner, leaving: dead 30 s, past the 30 s grace')
  })

  it('removes a learner that is no longer eligible, even if caught up', () => {
    const nodes = [...boards('abcd'), board('e', { optedOut: true })]
    assert.deepEqual(place(nodes, members(['a', 'b'], ['e'], ['e'])).next, {
      kind: 'remove',
      id: 'e',
      reason: 'learner not eligible: opted out',
    })
  })

  it('waits for a learner that is down within grace', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), 1000)]
    const p = place(nodes, members(['a', 'b'], ['c'], ['c']))
    assert.deepEqual(p.target, ['a', 'b', 'c'])
    assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.learnerDown, id: 'c' })
  })

  it('does not promote a suspect learner', () => {
    const nodes = [...boards('ab'), board('c', { state: 'suspect' })]
    assert.deepEqual(place(nodes, members(['a', 'b'], ['c'], ['c'])).next, {
      kind: 'wait',
      reason: WAIT.learnerSuspect,
      id: 'c',
    })
  })

  it('removes a learner that is not needed', () => {
    const p = place(boards('abcd'), members(['a', 'b', 'c'], ['d']))
    assert.deepEqual(p.next, { kind: 'remove', id: 'd', reason: 'learner not needed' })
    assert.equal(p.reasons.d?.why, 'learner, leaving: not needed')
  })

  it('promotes before removing a dead voter (a learner blocks other changes)', () => {
    const p5 = { ...policy, votersTarget: 5 }
    const nodes = [...boards('abde'), dead(ranked('c', 2), GRACE + 1)]
    assert.deepEqual(place(nodes, members(['a', 'b', 'c'], ['d'], ['d']), true, p5).next, {
      kind: 'promote',
      id: 'd',
    })
  })
})

describe('placement: quorum', () => {
  it('without quorum nothing happens at all, but the target is still shown', () => {
    const nodes = [...boards('abd'), dead(ranked('c', 2), GRACE * 10)]
    for (const m of [members(['a', 'b', 'c']), members(['a'], ['b'], ['b']), members(['a', 'b', 'c', 'd'])]) {
      const p = place(nodes, m, false)
      assert.deepEqual(p.next, { kind: 'wait', reason: WAIT.noQuorum })
      assert.equal(p.quorumLost, true)
    }
    assert.deepEqual(place(nodes, members(['a', 'b', 'c']), false).target, ['a', 'b', 'd'])
    assert.equal(place(nodes, members(['a', 'b', 'c'])).quorumLost, false)
  })

  it('also waits when the mesh sees fewer than a majority of voters up', () => {
    const nodes = [
      ranked('a', 0),
      dead(ranked('b', 1), GRACE * 10),
      dead(ranked('c', 2), GRACE * 10),
      ...boards('de'),
    ]
    assert.deepEqual(place(nodes, members(['a', 'b', 'c'])).next, {
      kind: 'wait',
      reason: WAIT.noMeshMajority,
    })
  })
})

describe('placement: input checks and reasons', () => {
  it('rejects a node listed twice and a member that is both voter and learner (shell bugs)', () => {
    assert.throws(() => place([board('a'), board('a')], members(['a'])), /listed twice/)
    assert.throws(() => place(boards('ab'), members(['a'], ['a'])), /both voter and learner/)
    assert.throws(() => place(boards('ab'), members(['a', 'a'])), /duplicate voter/)
  })

  it('gives every node and every member a reason', () => {
    const nodes = [
      ...boards('ab'),
      board('o', { optedOut: true }),
      board('p', { state: 'pending' }),
      dead(board('q'), 1),
      board('s', { storageClass: 'sd', fsyncP99Ms: 42 }),
      board('n', { fsyncP99Ms: null }),
    ]
    const p = place(nodes, members(['a', 'ghost']))
    assert.deepEqual(Object.keys(p.reasons).sort(), ['a', 'b', 'ghost', 'n', 'o', 'p', 'q', 's'].sort())
    assert.equal(p.reasons.o?.why, 'refused: opted out')
    assert.equal(p.reasons.p?.why, 'refused: pending approval')
    assert.equal(p.reasons.q?.why, 'refused: dead')
    assert.equal(p.reasons.s?.why, 'refused: SD card fsync p99 42 ms > 10 ms')
    assert.equal(p.reasons.n?.why, 'refused: no fsync probe')
  })
})
