import { readFile, rename, stat } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { silentLogger } from '../core/log.js'
import { formatInitialCluster, parseInitialCluster } from '../etcd/model/initial-cluster.js'
import { killStale } from '../etcd/process.js'
import { EtcdTools } from '../etcd/snapshot.js'
import { etcdFiles } from '../etcd/spec.js'
import { identityFromPem } from '../identity/identity.js'
import { readClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'
import { epochOf } from './epoch.js'
import { type LocalEtcdState, readLocalState, writeLocalState } from './local-state.js'
import { type HeldSnapshot, listSnapshots, verifySnapshot } from './snapshot-store.js'

// `homecloud recover` with the agent stopped (the status page's recovery, recovery.ts,
// is the same with the agent running): quorum is gone for good, so this surviving board
// becomes a one-member etcd cluster of the next epoch from the newest intact snapshot it
// holds. The old data directory is moved aside, never deleted; the membership
// record is written last, so an interrupted recover leaves the node as it was (plus
// a moved directory the error names).

export interface RecoverResult {
  nodeId: string
  snapshot: HeldSnapshot
  refused: { name: string; reason: string }[]
  dataDir: string
  movedAside: string | null
  peerUrl: string
}

export async function recoverFromSnapshot(r: {
  stateDir: string
  clock: Clock
  /** Where etcdutl is; default the pinned build. */
  etcdBinDir?: string
}): Promise<RecoverResult> {
  const paths = statePaths(r.stateDir)
  let pem: string
  try {
    pem = await readFile(paths.identityKey, 'utf8')
  } catch {
    throw new HomecloudError(
      'STATE_DIR',
      `${r.stateDir} holds no node identity`,
      'pass the state directory of the surviving board (--state DIR)',
    )
  }
  const nodeId = identityFromPem(pem, paths.identityKey).id
  const local = await readLocalState(r.stateDir)
  if (local?.status !== 'member') {
    throw new HomecloudError(
      'STATE_DIR',
      `this node is not an etcd member (${local?.status ?? 'no membership record'}): recover runs on a surviving voter`,
      'run it on a board the status page lists as a voter',
    )
  }
  const self = parseInitialCluster(local.initialCluster).find((e) => e.name === nodeId)
  if (!self) {
    throw new HomecloudError('STATE_DIR', `the membership record does not name this node (${nodeId})`)
  }

  const refused: RecoverResult['refused'] = []
  let chosen: HeldSnapshot | undefined
  for (const s of await listSnapshots(r.stateDir)) {
    const bad = await verifySnapshot(s)
    if (!bad) {
      chosen = s
      break
    }
    refused.push({ name: s.manifest.name, reason: bad })
  }
  if (!chosen) {
    throw new HomecloudError(
      'ETCD_SNAPSHOT_INVALID',
      refused.length === 0
        ? `no etcd snapshot in ${r.stateDir}/data/snapshots`
        : `no intact snapshot: ${refused.map((x) => `${x.name}: ${x.reason}`).join('; ')}`,
      'try another surviving board: the coordinator sends every snapshot to two nodes',
    )
  }

  const files = etcdFiles(r.stateDir)
  // An etcd left running by a killed agent would hold the data directory.
  await killStale(files.pidFile, files.dataDir, r.clock, silentLogger())
  const cluster = await readClusterFile(paths.clusterFile).catch(() => null)
  const restored = await restoreSnapshot({
    stateDir: r.stateDir,
    nodeId,
    peerUrl: self.peerUrl,
    previous: local,
    clusterEpoch: cluster?.etcdEpoch ?? 0,
    snapshotPath: chosen.path,
    nowMs: r.clock.nowMs(),
    ...(r.etcdBinDir ? { etcdBinDir: r.etcdBinDir } : {}),
  })
  // The agent, once started, signs the new epoch into the cluster settings (it holds the CA key).
  await writeLocalState(r.stateDir, restored.state)
  const movedAside = restored.movedAside
  return { nodeId, snapshot: chosen, refused, dataDir: files.dataDir, movedAside, peerUrl: self.peerUrl }
}

/**
 * Restores a snapshot as a new one-member etcd cluster of the next epoch (epoch.ts) with
 * etcd stopped: the old data directory moved aside (never deleted), a new token. Returns
 * the membership record, for the caller to write.
 */
export async function restoreSnapshot(r: {
  stateDir: string
  nodeId: string
  peerUrl: string
  previous: LocalEtcdState
  clusterEpoch: number
  snapshotPath: string
  nowMs: number
  etcdBinDir?: string
}): Promise<{ state: LocalEtcdState; movedAside: string | null }> {
  const files = etcdFiles(r.stateDir)
  let movedAside: string | null = null
  if (await exists(files.dataDir)) {
    movedAside = `${files.dataDir}.before-recover-${r.nowMs}`
    await rename(files.dataDir, movedAside)
  }
  const initialCluster = [{ name: r.nodeId, peerUrl: r.peerUrl }]
  // A new token: the restored cluster is a different cluster from the lost one.
  const token = `${r.previous.token.replace(/-r\d+$/, '')}`.slice(0, 100) + `-r${r.nowMs}`
  await new EtcdTools(r.etcdBinDir ? { binDir: r.etcdBinDir } : {}).snapshotRestore({
    snapshotPath: r.snapshotPath,
    name: r.nodeId,
    dataDir: files.dataDir,
    peerUrl: r.peerUrl,
    initialCluster,
    initialClusterToken: token,
  })
  const state: LocalEtcdState = {
    v: 1,
    status: 'member',
    // Learned from etcd once it answers (as for a founder).
    memberId: null,
    initialCluster: formatInitialCluster(initialCluster),
    initialClusterState: 'new',
    token,
    sinceMs: r.nowMs,
    epoch: Math.max(epochOf(r.previous), r.clusterEpoch) + 1,
  }
  return { state, movedAside }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
