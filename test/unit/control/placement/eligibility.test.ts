import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { eligibility } from '../../../../control/placement/eligibility.js'
import { PlacementPolicy } from '../../../../control/placement/policy.js'
import { board, dead, GRACE, NOW, policy } from './support.js'

const why = (n: Parameters<typeof eligibility>[0], p = policy) => eligibility(n, p, NOW).why

describe('placement eligibility', () => {
  it('accepts a healthy ARM board (arm64 and 32-bit arm)', () => {
    assert.equal(why(board('a')), 'eligible')
    assert.equal(eligibility(board('a', { arch: 'arm' }), policy, NOW).eligible, true)
  })

  it('refuses other architectures unless the policy widens it; amd64 is a fallback by default', () => {
    const x86 = eligibility(board('x', { arch: 'amd64' }), policy, NOW)
    assert.equal(x86.why, 'eligible (fallback: amd64)')
    assert.equal(x86.tier, 'fallback')
    assert.equal(eligibility(board('a'), policy, NOW).tier, 'preferred')
    assert.equal(why(board('x', { arch: 'riscv64' })), 'refused: riscv64 not eligible')
    assert.equal(eligibility(board('x', { arch: 'riscv64' }), policy, NOW).tier, null)
    const noFallback = { ...policy, fallbackArchs: [] }
    assert.equal(why(board('x', { arch: 'amd64' }), noFallback), 'refused: amd64 not eligible')
    const wide = { ...policy, eligibleArchs: ['arm64' as const, 'amd64' as const] }
    assert.equal(why(board('x', { arch: 'amd64' }), wide), 'eligible')
  })

  it('refuses an opted-out board', () => {
    assert.equal(why(board('a', { optedOut: true })), 'refused: opted out')
  })

  it('refuses pending and revoked boards (only full members vote)', () => {
    assert.equal(why(board('a', { state: 'pending' })), 'refused: pending approval')
    assert.equal(why(board('a', { revoked: true })), 'refused: revoked')
  })

  it('refuses an SD card that fails the fsync probe, with the numbers', () => {
    const e = eligibility(board('a', { storageClass: 'sd', fsyncP99Ms: 42 }), policy, NOW)
    assert.equal(e.eligible, false)
    assert.equal(e.why, 'refused: SD card fsync p99 42 ms > 10 ms')
    assert.equal(e.refusals[0]?.code, 'slow-fsync')
  })

  it('accepts fsync exactly at the limit and honours a custom limit', () => {
    assert.equal(why(board('a', { fsyncP99Ms: 10 })), 'eligible')
    assert.equal(why(board('a', { fsyncP99Ms: 10.25 })), 'refused: NVMe fsync p99 10.3 ms > 10 ms')
    assert.equal(
      why(board('a', { storageClass: 'sd', fsyncP99Ms: 15 }), { ...policy, fsyncP99MsMax: 20 }),
      'eligible',
    )
  })

  it('refuses NaN fsync results', () => {
    assert.equal(eligibility(board('a', { fsyncP99Ms: Number.NaN }), policy, NOW).eligible, false)
  })

  it("refuses a board with no probe result as 'no-fsync-probe' unless policy allows unknown", () => {
    const e = eligibility(board('a', { fsyncP99Ms: null }), policy, NOW)
    assert.equal(e.eligible, false)
    assert.equal(e.refusals[0]?.code, 'no-fsync-probe')
    assert.equal(e.why, 'refused: no fsync probe')
    assert.equal(why(board('a', { fsyncP99Ms: null }), { ...policy, allowUnknownFsync: true }), 'eligible')
  })

  it('refuses dead and suspect boards', () => {
    assert.equal(why(dead(board('a'), 1000)), 'refused: dead')
    assert.equal(why(board('a', { alive: false })), 'refused: dead')
    assert.equal(why(board('a', { state: 'suspect' })), 'refused: suspect')
  })

  it('refuses a board whose state is in RAM (netbooted, no state disk), however fast its fsync', () => {
    const ram = eligibility(board('n', { ramOnly: true, fsyncP99Ms: 0.02 }), policy, NOW)
    assert.equal(ram.eligible, false)
    assert.equal(ram.why, 'refused: no state disk (RAM-only)')
    assert.deepEqual(
      eligibility(board('x', { arch: 'amd64', ramOnly: true }), policy, NOW).refusals.map((r) => r.code),
      ['ram-only'],
    )
    assert.equal(eligibility(board('d', { ramOnly: false }), policy, NOW).eligible, true)
  })

  it('reports the most permanent refusal first and lists them all', () => {
    const e = eligibility(dead(board('a', { arch: 'riscv64', optedOut: true }), 5), policy, NOW)
    assert.deepEqual(
      e.refusals.map((r) => r.code),
      ['opted-out', 'arch', 'dead'],
    )
    assert.equal(e.why, 'refused: opted out')
  })

  it('measures liveness against the failover grace', () => {
    assert.deepEqual(eligibility(board('a'), policy, NOW).liveness, {
      status: 'up',
      downForMs: null,
      beyondGrace: false,
    })
    const within = eligibility(dead(board('a'), GRACE), policy, NOW).liveness
    assert.deepEqual(within, { status: 'down', downForMs: GRACE, beyondGrace: false })
    assert.equal(eligibility(dead(board('a'), GRACE + 1), policy, NOW).liveness.beyondGrace, true)
  })

  it('never counts a down board without a timestamp as beyond grace', () => {
    const l = eligibility(
      board('a', { alive: false, state: 'dead', deadSinceMs: null }),
      policy,
      NOW,
    ).liveness
    assert.deepEqual(l, { status: 'down', downForMs: null, beyondGrace: false })
  })

  it('treats a deadSince in the future (clock skew) as just now', () => {
    const l = eligibility(
      board('a', { alive: false, state: 'dead', deadSinceMs: NOW + 60_000 }),
      policy,
      NOW,
    ).liveness
    assert.deepEqual(l, { status: 'down', downForMs: 0, beyondGrace: false })
  })
})

describe('placement policy schema', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(PlacementPolicy.parse({}), {
      eligibleArchs: ['arm64', 'arm'],
      fallbackArchs: ['amd64'],
      fsyncP99MsMax: 10,
      allowUnknownFsync: false,
      failoverGraceMs: 30_000,
      votersTarget: 3,
    })
  })

  it('rejects an even voter target and unknown architectures', () => {
    assert.equal(PlacementPolicy.safeParse({ votersTarget: 2 }).success, false)
    assert.equal(PlacementPolicy.safeParse({ votersTarget: 5 }).success, true)
    assert.equal(PlacementPolicy.safeParse({ eligibleArchs: ['sparc'] }).success, false)
    assert.equal(PlacementPolicy.safeParse({ eligibleArchs: [] }).success, false)
  })
})
