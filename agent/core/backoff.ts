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

/** Restarting a supervised program that exited on its own (etcd, dnsmasq, kube-*). */
export interface RestartPolicy extends BackoffPolicy {
  /** A run at least this long resets the failure count. */
  stableRunMs: number
}

export const restartPolicyDefault: RestartPolicy = {
  initialDelayMs: 500,
  factor: 2,
  delayMsMax: 30_000,
  jitter: 0.2,
  stableRunMs: 60_000,
}

/** Consecutive failures after a run of `runMs` that ended in a crash. */
export function failuresAfterCrash(previousFailures: number, runMs: number, policy: RestartPolicy): number {
  return runMs >= policy.stableRunMs ? 1 : previousFailures + 1
}
