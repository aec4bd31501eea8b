import type { BackoffPolicy } from '../../agent/core/backoff.js'
import type { EvictionAnswer } from '../kubeapi/types.js'

// What an Eviction API answer means for a drain (pure). A 429 is the API server
// protecting a PodDisruptionBudget (its cause names the budget); anything refused by an
// admission webhook or policy is a denial, which no amount of waiting for replicas fixes
// and which the user must hear about as such.

export type EvictionVerdict =
  | { kind: 'evicted' }
  | { kind: 'gone' }
  /** Blocked by a budget: retry after a back-off. `pdb` is `namespace/name` when known. */
  | { kind: 'pdb'; pdb: string | null; detail: string }
  /** Refused by an admission webhook or policy (not a budget). */
  | { kind: 'denied'; status: number; detail: string }
  /** Server trouble (5xx, conflicts, throttling without a budget): retry. */
  | { kind: 'retry'; status: number; detail: string }

const budgetCause = /disruption budget ([a-z0-9]([-a-z0-9.]*[a-z0-9])?)/i

export function classifyEviction(
  a: EvictionAnswer,
  namespace: string,
  /** The budgets covering the pod by selector, used when the answer does not name one. */
  covering: readonly string[],
): EvictionVerdict {
  if (a.kind === 'evicted') return { kind: 'evicted' }
  const text = [a.message, ...a.causes].join('; ')
  if (a.status === 404) return { kind: 'gone' }
  const budgetish =
    a.causes.some((c) => c.startsWith('DisruptionBudget')) || /disruption budget/i.test(a.message)
  if (a.status === 429 && budgetish) {
    const named = a.causes.map((c) => budgetCause.exec(c)?.[1]).find((n) => n !== undefined)
    const pdb = named ? `${namespace}/${named}` : (covering[0] ?? null)
    return { kind: 'pdb', pdb, detail: text }
  }
  if (a.status === 500 && /more than one PodDisruptionBudget/i.test(a.message))
    return { kind: 'pdb', pdb: covering.join(' + ') || null, detail: text }
  if (a.status === 429 || a.status === 409 || a.status >= 500)
    return { kind: 'retry', status: a.status, detail: text }
  return { kind: 'denied', status: a.status, detail: text }
}

/**
 * Back-off before the next attempt at a blocked eviction (core/backoff.ts): exponential
 * from 1 s to 10 s, with ±25 % jitter so many drains (or many pods) do not retry in step.
 */
export const evictionBackoff: BackoffPolicy = {
  initialDelayMs: 1000,
  factor: 2,
  delayMsMax: 10_000,
  jitter: 0.25,
}
