import type { StorageClass } from '../../agent/facts/schema.js'
import type { PlacementPolicy } from './policy.js'
import type { NodeView } from './types.js'

// Can this node hold an etcd vote? Split into "refusals" (facts about the node and
// policy, no time involved) and "liveness" (needs nowMs for the failover grace), so
// placement can keep a member that is only briefly down.

export type RefusalCode =
  | 'revoked'
  | 'pending'
  | 'opted-out'
  | 'arch'
  | 'ram-only'
  | 'no-fsync-probe'
  | 'slow-fsync'
  | 'dead'
  | 'suspect'

export interface Refusal {
  code: RefusalCode
  /** Without the "refused: " prefix, e.g. "SD card fsync p99 42 ms > 10 ms". */
  text: string
}

export interface Liveness {
  /** 'down' = not alive or state dead; 'suspect' = alive but missing heartbeats. */
  status: 'up' | 'suspect' | 'down'
  /** How long it has been down; null while up or when the shell has no timestamp. */
  downForMs: number | null
  /**
   * Down for longer than the failover grace. A down node without a timestamp is never
   * beyond grace: without evidence of how long, nothing destructive happens.
   */
  beyondGrace: boolean
}

/** Which seats a node's architecture may take: any (`preferred`), or only those no preferred board can fill. */
export type Tier = 'preferred' | 'fallback'

export function archTier(arch: NodeView['arch'], policy: PlacementPolicy): Tier | null {
  if (policy.eligibleArchs.includes(arch)) return 'preferred'
  if (policy.fallbackArchs.includes(arch)) return 'fallback'
  return null
}

export interface Eligibility {
  eligible: boolean
  /** null when the architecture may hold no seat at all (then `arch` is among the refusals). */
  tier: Tier | null
  /** Every failing check, most permanent first (what to fix comes before "it's down"). */
  refusals: Refusal[]
  liveness: Liveness
  /** "eligible", "eligible (fallback: amd64)" or "refused: <first refusal>". */
  why: string
}

const STORAGE_LABEL: Record<StorageClass, string> = {
  nvme: 'NVMe',
  ssd: 'SSD',
  emmc: 'eMMC',
  sd: 'SD card',
  hdd: 'HDD',
  unknown: 'disk',
}

export function formatMs(ms: number): string {
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(1)
}

export function liveness(node: NodeView, policy: PlacementPolicy, nowMs: number): Liveness {
  const down = !node.alive || node.state === 'dead'
  if (!down)
    return { status: node.state === 'suspect' ? 'suspect' : 'up', downForMs: null, beyondGrace: false }
  const since = node.deadSinceMs
  if (since === null || since === undefined) return { status: 'down', downForMs: null, beyondGrace: false }
  // A timestamp from the future (clock skew between agents) counts as "just now".
  const downForMs = Math.max(0, nowMs - since)
  return { status: 'down', downForMs, beyondGrace: downForMs > policy.failoverGraceMs }
}

/** The time-independent checks; liveness is appended so the order stays "most permanent first". */
export function refusals(node: NodeView, policy: PlacementPolicy): Refusal[] {
  const out: Refusal[] = []
  if (node.revoked) out.push({ code: 'revoked', text: 'revoked' })
  if (node.state === 'pending') out.push({ code: 'pending', text: 'pending approval' })
  if (node.optedOut) out.push({ code: 'opted-out', text: 'opted out' })
  if (archTier(node.arch, policy) === null) out.push({ code: 'arch', text: `${node.arch} not eligible` })
  // Its state (etcd's data with it) is in RAM: a power cut would lose the member's data,
  // however fast its fsync is.
  if (node.ramOnly === true) out.push({ code: 'ram-only', text: 'no state disk (RAM-only)' })
  if (node.fsyncP99Ms === null) {
    if (!policy.allowUnknownFsync) out.push({ code: 'no-fsync-probe', text: 'no fsync probe' })
  } else if (!(node.fsyncP99Ms <= policy.fsyncP99MsMax)) {
    // Written as !(<=) so a NaN probe is refused too.
    const label = STORAGE_LABEL[node.storageClass]
    out.push({
      code: 'slow-fsync',
      text: `${label} fsync p99 ${formatMs(node.fsyncP99Ms)} ms > ${formatMs(policy.fsyncP99MsMax)} ms`,
    })
  }
  if (!node.alive || node.state === 'dead') out.push({ code: 'dead', text: 'dead' })
  else if (node.state === 'suspect') out.push({ code: 'suspect', text: 'suspect' })
  return out
}

export function eligibility(node: NodeView, policy: PlacementPolicy, nowMs: number): Eligibility {
  const found = refusals(node, policy)
  const first = found[0]
  const tier = archTier(node.arch, policy)
  const eligibleWhy = tier === 'fallback' ? `eligible (fallback: ${node.arch})` : 'eligible'
  return {
    eligible: first === undefined,
    tier,
    refusals: found,
    liveness: liveness(node, policy, nowMs),
    why: first === undefined ? eligibleWhy : `refused: ${first.text}`,
  }
}
