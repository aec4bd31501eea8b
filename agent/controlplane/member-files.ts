import { readFile, rename, rm } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { etcdBinDir, etcdProgram } from '../etcd/binaries.js'
import type { ClientTls } from '../etcd/client.js'
import { gatewayTls } from '../etcd/etcd-auth.js'
import { formatInitialCluster, parseInitialCluster } from '../etcd/model/initial-cluster.js'
import { EtcdProcess } from '../etcd/process.js'
import { type EtcdMemberSpec, etcdFiles } from '../etcd/spec.js'
import type { CaMaterial } from '../pki/ca.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import { pkiPaths } from '../pki/store.js'
import { issueEtcdCerts, writeEtcdCerts } from './certs.js'
import { asideName } from './epoch.js'
import type { LocalEtcdState } from './local-state.js'

// Where this node's etcd member lives on disk and how it is started: the member spec
// from what the node knows of itself (pure), and its client certificate.

/** How this node runs its etcd member: where the program is, its ports and timings. */
export interface MemberEtcdSettings {
  /** The directory holding etcd; default the pinned build (etcd/binaries.ts). */
  binDir?: string
  clientPort: number
  peerPort: number
  heartbeatMs: number
  electionTimeoutMs: number
}

export interface MemberSelf {
  stateDir: string
  nodeId: string
  address: string
  etcd: MemberEtcdSettings
}

/** The etcd process for the member `s` describes (not started). */
export function etcdProcessFor(
  self: MemberSelf,
  s: LocalEtcdState,
  c: { log: Logger; clock: Clock },
  stopGraceMs: number,
): EtcdProcess {
  return new EtcdProcess(
    {
      spec: memberSpec(self, s),
      binary: etcdProgram('etcd', self.etcd.binDir ?? etcdBinDir()),
      pidFile: etcdFiles(self.stateDir).pidFile,
      stopGraceMs,
    },
    { logger: c.log, clock: c.clock },
  )
}

/** The founder's etcd certificates, written; returns its first membership record. */
export async function prepareFounder(
  self: MemberSelf & { clusterId: string },
  peerUrl: string,
  ca: CaMaterial,
  clock: Clock,
): Promise<LocalEtcdState> {
  const certs = await issueEtcdCerts({ ca, nodeId: self.nodeId, address: self.address, clock })
  await writeEtcdCerts(self.stateDir, certs, ca.certPem)
  return {
    v: 1,
    status: 'founding',
    memberId: null,
    initialCluster: formatInitialCluster([{ name: self.nodeId, peerUrl }]),
    initialClusterState: 'new',
    token: self.clusterId,
    sinceMs: clock.nowMs(),
  }
}

/** A superseded member's data moved aside (never deleted) and its CA key dropped; returns where. */
export async function moveAside(stateDir: string, clusterEpoch: number, nowMs: number): Promise<string> {
  const dataDir = etcdFiles(stateDir).dataDir
  const aside = asideName(dataDir, clusterEpoch, nowMs)
  await rename(dataDir, aside).catch(() => {})
  await rm(pkiPaths(stateDir).caKey, { force: true })
  return aside
}

/** The etcd command line's inputs for the member `s` describes. */
export function memberSpec(self: MemberSelf, s: LocalEtcdState): EtcdMemberSpec {
  const files = etcdFiles(self.stateDir)
  return {
    name: self.nodeId,
    dataDir: files.dataDir,
    address: self.address,
    clientPort: self.etcd.clientPort,
    peerPort: self.etcd.peerPort,
    initialCluster: parseInitialCluster(s.initialCluster),
    initialClusterState: s.initialClusterState,
    initialClusterToken: s.token,
    tls: files.tls,
    heartbeatMs: self.etcd.heartbeatMs,
    electionTimeoutMs: self.etcd.electionTimeoutMs,
  }
}

/**
 * How this node's agent reaches etcd: as a CA-key holder (every member), through the
 * gateway with a name-less certificate and its login (etcd-auth.ts); null without the
 * CA certificate and key on disk.
 */
export async function readClientTls(
  stateDir: string,
  nodeId: string,
  clock: Pick<Clock, 'nowMs'>,
): Promise<ClientTls | null> {
  const pki = pkiPaths(stateDir)
  try {
    const [certPem, keyPem] = await Promise.all([readFile(pki.caCert, 'utf8'), readFile(pki.caKey, 'utf8')])
    return gatewayTls({ certPem, keyPem }, nodeId, clock, await generateRsaKeyPemAsync())
  } catch {
    return null
  }
}
