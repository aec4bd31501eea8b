import assert from 'node:assert/strict'
import { startRollout } from '../../../../control/rollout/admin.js'
import { nextRolloutStep } from '../../../../control/rollout/step.js'
import type { ObservedCluster, RolloutDecision } from '../../../../control/rollout/types.js'
import { v2, type World } from './world.js'

// Driving the model cluster through the rollout's pure step, shared by the rollout's unit tests.

export function start(w: World, target = v2, canary = 1): void {
  const r = startRollout(w.record, {
    clusterId: 'c1',
    spec: target.version,
    canary,
    retryBad: false,
    nowMs: w.nowMs,
    published: [{ ...target, arch: 'amd64', publishedAtMs: 1 }],
    running: {},
  })
  assert.ok(r.ok, r.ok ? '' : r.message)
  w.record = r.body
}

/** One pass: observe, decide, apply in order until an effect fails; then time moves on. */
export function pass(w: World, observed?: (o: ObservedCluster) => ObservedCluster): RolloutDecision {
  const o = w.observe()
  const d = nextRolloutStep(observed ? observed(o) : o, w.record, w.policy)
  try {
    for (const e of d.effects) w.apply(e)
  } catch (err) {
    w.log.push(`failed: ${(err as Error).message}`)
  }
  w.nowMs += 1_000
  return d
}

export function runUntil(w: World, done: () => boolean, passesMax = 500): void {
  for (let i = 0; i < passesMax; i++) {
    if (done()) return
    pass(w)
  }
  assert.fail(
    `not done after ${passesMax} passes; waiting: ${w.record?.waiting}; last: ${w.log.slice(-8).join(' | ')}`,
  )
}

export const finished = (w: World) => () =>
  !!w.record && w.record.phase !== 'running' && w.record.current === null
