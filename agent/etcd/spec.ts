import { isIP } from 'node:net'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'
import { pkiPaths } from '../pki/store.js'
import { formatInitialCluster, type InitialClusterEntry } from './model/initial-cluster.js'

// What one etcd member is, and the exact command line that runs it (pure). Every
// listener is mutual TLS with certificates from the cluster CA; nothing listens on
// 0.0.0.0 or plain HTTP.

export const clientPortDefault = 2379
export const peerPortDefault = 2380

export interface EtcdTlsFiles {
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  peerCertFile: string
  peerKeyFile: string
}

export interface EtcdMemberSpec {
  /** Member name: the node id. */
  name: string
  dataDir: string
  /** The node's own address; both listeners bind to it alone. */
  address: string
  clientPort?: number
  peerPort?: number
  initialCluster: readonly InitialClusterEntry[]
  initialClusterState: 'new' | 'existing'
  /** Keeps two clusters formed from the same URLs apart: the homecloud cluster id. */
  initialClusterToken: string
  tls: EtcdTlsFiles
  /** etcd's defaults (100 ms / 1000 ms) suit a LAN; raise both on slow Wi-Fi. */
  heartbeatMs?: number
  electionTimeoutMs?: number
  /** Raft entries between snapshots: 3.6's default (3.4 had 100 000, too much memory on a 1 GB board). */
  snapshotCount?: number
  /** Hours of history kept (periodic auto-compaction), so the database does not grow forever. */
  compactionRetentionHours?: number
  quotaBackendBytes?: number
}

export const snapshotCountDefault = 10_000
export const compactionRetentionHoursDefault = 1

export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`
}

export const clientUrlOf = (address: string, port = clientPortDefault) => `https://${hostPort(address, port)}`
export const peerUrlOf = (address: string, port = peerPortDefault) => `https://${hostPort(address, port)}`

export function clientUrl(spec: EtcdMemberSpec): string {
  return clientUrlOf(spec.address, spec.clientPort ?? clientPortDefault)
}

export function peerUrl(spec: EtcdMemberSpec): string {
  return peerUrlOf(spec.address, spec.peerPort ?? peerPortDefault)
}

/**
 * The arguments for `etcd` (3.6; 3.4 and 3.5 take the same ones: the upgrade path). Always `--flag=value`, so a stale process can be
 * recognised from /proc/<pid>/cmdline by its exact `--data-dir=` argument.
 */
export function buildEtcdArgs(spec: EtcdMemberSpec): string[] {
  if (isIP(spec.address) === 0)
    throw new HomecloudError('ETCD_PROCESS', `etcd needs an IP address, got ${spec.address}`)
  const self = spec.initialCluster.find((e) => e.name === spec.name)
  if (!self || self.peerUrl !== peerUrl(spec)) {
    throw new HomecloudError(
      'ETCD_PROCESS',
      `--initial-cluster must list ${spec.name}=${peerUrl(spec)} (the member itself)`,
    )
  }
  const heartbeatMs = spec.heartbeatMs ?? 100
  const electionTimeoutMs = spec.electionTimeoutMs ?? 1000
  if (electionTimeoutMs < 5 * heartbeatMs) {
    throw new HomecloudError('ETCD_PROCESS', 'the election timeout must be at least 5 heartbeats')
  }
  const flags: Record<string, string | number | boolean> = {
    name: spec.name,
    'data-dir': spec.dataDir,
    'listen-client-urls': clientUrl(spec),
    'advertise-client-urls': clientUrl(spec),
    'listen-peer-urls': peerUrl(spec),
    'initial-advertise-peer-urls': peerUrl(spec),
    'initial-cluster': formatInitialCluster(spec.initialCluster),
    'initial-cluster-state': spec.initialClusterState,
    'initial-cluster-token': spec.initialClusterToken,
    'client-cert-auth': true,
    'trusted-ca-file': spec.tls.caFile,
    'cert-file': spec.tls.serverCertFile,
    'key-file': spec.tls.serverKeyFile,
    'peer-client-cert-auth': true,
    'peer-trusted-ca-file': spec.tls.caFile,
    'peer-cert-file': spec.tls.peerCertFile,
    'peer-key-file': spec.tls.peerKeyFile,
    'heartbeat-interval': heartbeatMs,
    'election-timeout': electionTimeoutMs,
    // A member cut off from the others must not force an election when it returns
    // (the default from 3.5 on; said anyway for a member still on 3.4 mid-upgrade).
    'pre-vote': true,
    'snapshot-count': spec.snapshotCount ?? snapshotCountDefault,
    'auto-compaction-mode': 'periodic',
    'auto-compaction-retention': `${spec.compactionRetentionHours ?? compactionRetentionHoursDefault}h`,
    // Structured JSON lines on stderr, one per event, forwarded to the agent log.
    logger: 'zap',
    'log-outputs': 'stderr',
  }
  if (spec.quotaBackendBytes !== undefined) flags['quota-backend-bytes'] = spec.quotaBackendBytes
  return Object.entries(flags).map(([k, v]) => (v === true ? `--${k}` : `--${k}=${v}`))
}

/** Where a node keeps its etcd member: data under the state dir, certificates in its PKI. */
export function etcdFiles(stateDir: string) {
  const pki = pkiPaths(stateDir)
  const server = pki.profile('etcd-server')
  const peer = pki.profile('etcd-peer')
  const client = pki.profile('etcd-client')
  const tls: EtcdTlsFiles = {
    caFile: pki.caCert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    peerCertFile: peer.cert,
    peerKeyFile: peer.key,
  }
  return {
    dataDir: join(stateDir, 'data', 'etcd'),
    pidFile: join(stateDir, 'data', 'etcd.pid'),
    tls,
    client: { caFile: pki.caCert, certFile: client.cert, keyFile: client.key },
  }
}
