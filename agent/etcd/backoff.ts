// When to restart an etcd member that exited on its own (pure). Exponential, capped,
// with jitter so members on several boards do not restart in lockstep; a run that
// lasted long enough counts as healthy and resets the count.

export interface RestartPolicy {
  initialDelayMs: number
  factor: number
  delayMsMax: number
  /** ± this fraction of the delay, from the injected random source. */
  jitter: number
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

/** Delay before restart number `failures` (1 = first restart after a crash); `random` in [0, 1). */
export function restartDelayMs(failures: number, policy: RestartPolicy, random: number): number {
  const exponent = Math.max(0, failures - 1)
  const base = Math.min(policy.delayMsMax, policy.initialDelayMs * policy.factor ** exponent)
  const jittered = base * (1 + policy.jitter * (2 * random - 1))
  return Math.round(Math.min(policy.delayMsMax, Math.max(0, jittered)))
}

/** Consecutive failures after a run of `runMs` that ended in a crash. */
export function failuresAfterCrash(previousFailures: number, runMs: number, policy: RestartPolicy): number {
  return runMs >= policy.stableRunMs ? 1 : previousFailures + 1
}
