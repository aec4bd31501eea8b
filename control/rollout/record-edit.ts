import type { NodeOutcome, RolloutBody } from './record.js'
import type { RolloutDecision, RolloutEffect, RolloutNode } from './types.js'

// How the rollout's decision edits its record: every change bumps the version (the
// record is written with compare-and-swap on it), a wait is written only when its reason
// changed, and a node's outcome keeps a bounded detail.

export function bump(r: RolloutBody, change: Partial<RolloutBody>): RolloutBody {
  return { ...r, ...change, version: r.version + 1 }
}

/** Waiting: record the reason only when it changed (no write per pass). */
export function wait(r: RolloutBody, waiting: string, effects: RolloutEffect[] = []): RolloutDecision {
  const rec: RolloutEffect[] = r.waiting === waiting ? [] : [{ kind: 'record', body: bump(r, { waiting }) }]
  return { effects: [...rec, ...effects], waiting }
}

export function withOutcome(
  r: RolloutBody,
  n: RolloutNode,
  state: NodeOutcome['state'],
  detail: string,
  nowMs: number,
) {
  return { ...r.nodes, [n.id]: { name: n.name, state, atMs: nowMs, detail: detail.slice(0, 400) } }
}
