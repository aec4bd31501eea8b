import type { CaMaterial } from '../pki/ca.js'
import type { LocalEtcdState } from './local-state.js'

// Which etcd cluster is the cluster's (pure). A recovery from a snapshot makes a new etcd
// cluster and bumps the epoch in the signed cluster settings, which every node gets
// through the mesh. A member of an older epoch (a voter of the lost cluster that comes
// back later) moves its data aside and waits to be assigned again: two of them together
// must never be the old majority again, and nobody has to wipe them by hand.

export function epochOf(s: Pick<LocalEtcdState, 'epoch'> | null): number {
  return s?.epoch ?? 0
}

/** True when our member belongs to an etcd cluster the cluster has left behind. */
export function superseded(s: LocalEtcdState | null, clusterEpoch: number): boolean {
  if (!s || s.status === 'removed') return false
  return epochOf(s) < clusterEpoch
}

/** An assignment made in an older epoch than the one we know is refused (its sender is a leftover). */
export function assignmentEpochRefusal(assignEpoch: number, clusterEpoch: number): string | null {
  return assignEpoch < clusterEpoch
    ? `the assignment is of etcd epoch ${assignEpoch}, but the cluster is at epoch ${clusterEpoch}`
    : null
}

/** Where a superseded member's data goes: kept, named after the epoch that replaced it. */
export function asideName(dataDir: string, clusterEpoch: number, nowMs: number): string {
  return `${dataDir}.epoch-${clusterEpoch}-aside-${nowMs}`
}

/** The trust layer as a member sees it: signer switch, CA, and the cluster's etcd epoch. */
export interface EpochTrust {
  caMaterial(): CaMaterial | null
  setCaKey(keyPem: string | null): boolean
  readonly settings: { etcdEpoch?: number | undefined }
}
