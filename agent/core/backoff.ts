// The one backoff function (pure): exponential from an initial delay, capped, with
// jitter drawn from an injected random source so many nodes, members or keys do not
// retry in lockstep. The cap is a true maximum: jitter never pushes a delay past it.

export interface BackoffPolicy {
  initialDelayMs: number
  factor: number
  delayMsMax: number
  /** ± this fraction of the delay, from the injected random source. */
  jitter: number
}

/** Delay before retry number `attempt` (1 = the first retry after a failure); `random` in [0, 1). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponent = Math.max(0, attempt - 1)
  const base = Math.min(policy.delayMsMax, policy.initialDelayMs * policy.factor ** exponent)
  const r = Math.min(1, Math.max(0, random))
  const jittered = base * (1 + policy.jitter * (2 * r - 1))
  return Math.round(Math.min(policy.delayMsMax, Math.max(0, jittered)))
}
