import type { SlotReport } from '../../agent/slots/types.js'
import type { CurrentNode, TargetRelease } from './record.js'
import type { RolloutNode } from './types.js'

// The health gate after a node rebooted into its tried slot (pure). "Booted" is not
// "good": the agent must be back on the new version and alive in the mesh, answer over
// 7443 with a valid certificate (its slot report arrived over mutual TLS, the CN checked),
// a voter's etcd member healthy, its Node Ready with the kubelet of the release and a
// heartbeat from this boot, and its DaemonSet pods back.

export type GateVerdict =
  /** Not rebooted into the tried slot yet (the reboot order was not taken). */
  | { kind: 'not-rebooted' }
  /** Came back on its good slot by itself: the tries ran out. */
  | { kind: 'fell-back'; reason: string }
  | { kind: 'waiting'; for: string[] }
  | { kind: 'pass' }

export function gateVerdict(n: RolloutNode, cur: CurrentNode, t: TargetRelease, kube: boolean): GateVerdict {
  const s = n.slots
  const bootsAtTry = cur.bootsAtTry ?? 0
  if (!s) {
    if (!n.alive) return { kind: 'waiting', for: [`${n.name} to come back (down in the mesh)`] }
    return { kind: 'waiting', for: [`${n.name}'s agent API over 7443 (${n.slotsError ?? 'no answer'})`] }
  }
  const bootedTarget = s.bootedRelease?.releaseId === t.id
  if (s.boots <= bootsAtTry)
    return bootedTarget ? { kind: 'waiting', for: waits(n, t, kube, cur) } : { kind: 'not-rebooted' }
  if (!bootedTarget) {
    const f = s.lastFallback
    const why =
      f?.releaseId === t.id
        ? f.reason === 'tries-exhausted'
          ? `it booted ${t.version} and never became healthy; after its tries it came back on ${s.bootedRelease?.version ?? 'its last good release'} by itself`
          : `it was sent back to ${s.bootedRelease?.version ?? 'its last good release'}`
        : `it booted ${s.bootedRelease?.version ?? 'nothing'} instead of ${t.version}`
    return { kind: 'fell-back', reason: why }
  }
  const w = waits(n, t, kube, cur)
  return w.length === 0 ? { kind: 'pass' } : { kind: 'waiting', for: w }
}

/** What the gate still waits for, in words (empty: it passes). */
function waits(n: RolloutNode, t: TargetRelease, kube: boolean, cur: CurrentNode): string[] {
  const out: string[] = []
  if (!n.alive) out.push('alive in the mesh')
  if (n.version !== t.version)
    out.push(`agent version ${t.version} in its mesh record (has ${n.version ?? 'none'})`)
  if (n.voter && !n.etcdHealthy) out.push('its etcd member healthy')
  if (!kube) return out
  const k = n.kube
  if (!k) return [...out, 'its Kubernetes Node']
  if (!k.ready) out.push('Node Ready')
  if (t.kubernetes && k.kubeletVersion !== t.kubernetes)
    out.push(`kubelet ${t.kubernetes} (Node reports ${k.kubeletVersion || 'none'})`)
  if (n.startedAtMs !== null && (k.heartbeatMs === null || k.heartbeatMs < n.startedAtMs))
    out.push('a Node heartbeat since the agent started')
  if (k.daemonPodsReady < (cur.daemonPods ?? 0))
    out.push(`its DaemonSet pods back (${k.daemonPodsReady} of ${cur.daemonPods} ready)`)
  return out
}

/**
 * The boot count before the tried slot's first boot, taken when the try is seen set: the
 * count now — unless the machine already runs the tried slot (it lost power after taking
 * the try order and the firmware booted it before the coordinator looked), when that boot
 * is the try's and must count for the gate.
 */
export function bootsBeforeTry(s: SlotReport): number {
  return s.trying !== null && s.booted === s.trying ? Math.max(0, s.boots - 1) : s.boots
}

/** Back on its good slot after a revert: committed, not the target, agent on that version, Node Ready. */
export function revertedHealthy(n: RolloutNode, t: TargetRelease, kube: boolean): string[] {
  const s = n.slots
  if (!n.alive || !s) return [`${n.name} back on its last good release`]
  const out: string[] = []
  if (s.bootedRelease?.releaseId === t.id || !s.committed) out.push(`${n.name} booted on its last good slot`)
  else if (n.version !== s.bootedRelease?.version) out.push(`agent version ${s.bootedRelease?.version}`)
  if (kube && n.kube && !n.kube.ready) out.push('Node Ready')
  return out
}
