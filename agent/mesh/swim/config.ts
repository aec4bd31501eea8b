// The knobs of the SWIM failure detector, each a named limit with its unit last, and the
// timings derived from the cluster's size. Defaults are tuned so a cluster of 5–20 notices
// a death everywhere within ~3 s (as the old heartbeat mesh did) while per-node load stays
// flat as the cluster grows; test/sim measures both.

export interface SwimConfig {
  /** One member is probed per period (scaled up by the local health score). */
  probeIntervalMs: number
  /** How long a direct ping waits for its ack before asking others to try. */
  probeTimeoutMs: number
  /** How many other members are asked to ping an unanswering member (ping-req). */
  indirectChecks: number
  /** Suspicion lasts suspicionMult × max(1, log10 n) probe periods once confirmed… */
  suspicionMult: number
  /** …and starts at this multiple of that, shrinking as others confirm (Lifeguard). */
  suspicionMaxMult: number
  /** Independent confirmations that bring a suspicion down to its minimum. */
  suspicionConfirmations: number
  /** Each update is sent retransmitMult × ceil(log10(n + 1)) times by every node that learns it. */
  retransmitMult: number
  /** Updates not piggybacked on probes go out this often… */
  gossipIntervalMs: number
  /** …to this many random neighbours… */
  gossipFanout: number
  /** …with at most this many bytes of updates in one message. */
  gossipBytesMax: number
  /** Updates piggybacked on one ping, ack or ping-req. */
  piggybackBytesMax: number
  /** Anti-entropy: a full digest exchange with one neighbour this often (grows with log2 n past 32). */
  pushPullIntervalMs: number
  /** A neighbour newly connected is synced at once, unless it was synced this recently. */
  resyncAfterMs: number
  /** The local health score runs 0..awarenessMax-1; periods and timeouts scale by score + 1. */
  awarenessMax: number
  /**
   * Event-loop lag (how late this node's own timer fired) below this is noise; each
   * multiple of it lifts the health score by one, and a node at one or more accuses nobody.
   * One probe timeout: a loop that late would read acks after their deadline.
   */
  lagToleranceMs: number
  /** A lag measured keeps counting for this long (the peak over the window). */
  lagWindowMs: number
  /** A tick this much later than asked means this process stalled: nobody is accused for it. */
  stallToleranceMs: number
  /** Updates waiting to be gossiped; the most-sent are dropped first past this. */
  broadcastsMax: number
  /** Digest entries per sync message (a frame stays well under 64 KiB). */
  digestEntriesMax: number
  /** Bytes of records per sync reply message. */
  syncBytesMax: number
  /** Members kept, the dead included; the longest dead are evicted first. */
  membersMax: number
}

export const DEFAULT_SWIM_CONFIG: SwimConfig = {
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  indirectChecks: 3,
  suspicionMult: 2,
  suspicionMaxMult: 4,
  suspicionConfirmations: 3,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  gossipBytesMax: 4096,
  piggybackBytesMax: 1024,
  pushPullIntervalMs: 10_000,
  resyncAfterMs: 5_000,
  awarenessMax: 8,
  lagToleranceMs: 200,
  lagWindowMs: 4_000,
  stallToleranceMs: 1_000,
  broadcastsMax: 4096,
  digestEntriesMax: 512,
  syncBytesMax: 32 * 1024,
  membersMax: 1024,
}

/** log10 of the cluster size, never below 1: small clusters keep the base timings. */
export function sizeScale(n: number): number {
  return Math.max(1, Math.log10(Math.max(1, n)))
}

/** Suspicion bounds for a cluster of `n` members (this node included). */
export function suspicionBoundsMs(c: SwimConfig, n: number): { minMs: number; maxMs: number } {
  const minMs = Math.round(c.suspicionMult * sizeScale(n) * c.probeIntervalMs)
  return { minMs, maxMs: minMs * c.suspicionMaxMult }
}

/**
 * Lifeguard's dynamic suspicion: from maxMs with no confirmation down to minMs once `k`
 * independent members agree, on a log curve (the first confirmations count most).
 */
export function suspicionTimeoutMs(
  bounds: { minMs: number; maxMs: number },
  confirmations: number,
  k: number,
): number {
  if (k <= 0) return bounds.minMs
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1)
  return Math.max(bounds.minMs, Math.floor(bounds.maxMs - frac * (bounds.maxMs - bounds.minMs)))
}

/** Confirmations expected for a suspicion in a cluster of n (the suspect and this node excluded). */
export function expectedConfirmations(c: SwimConfig, n: number): number {
  return Math.max(0, Math.min(c.suspicionConfirmations, n - 2))
}

/** How many times each node sends one update. */
export function retransmitLimit(c: SwimConfig, n: number): number {
  return c.retransmitMult * Math.max(1, Math.ceil(Math.log10(n + 1)))
}

/** Digest exchanges slow down past 32 members, as the digest grows with n. */
export function pushPullIntervalMs(c: SwimConfig, n: number): number {
  const scale = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1
  return c.pushPullIntervalMs * scale
}
