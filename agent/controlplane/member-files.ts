import { readFile } from 'node:fs/promises'
import type { ClientTls } from '../etcd/client.js'
import { etcdLogin } from '../etcd/etcd-auth.js'
import { parseInitialCluster } from '../etcd/model/initial-cluster.js'
import { type EtcdMemberSpec, etcdFiles } from '../etcd/spec.js'
import { pkiPaths } from '../pki/store.js'
import type { LocalEtcdState } from './local-state.js'

// Where this node's etcd member lives on disk and how it is started: the member spec
// from what the node knows of itself (pure), and its client certificate.

export interface MemberSelf {
  stateDir: string
  nodeId: string
  address: string
  etcd: { clientPort: number; peerPort: number; heartbeatMs: number; electionTimeoutMs: number }
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
 * Our etcd-client certificate and key with the CA, and our etcd login (from the CA key a
 * member holds, etcd-auth.ts); null until the first three are on disk.
 */
export async function readClientTls(stateDir: string, nodeId: string): Promise<ClientTls | null> {
  const files = etcdFiles(stateDir).client
  try {
    const [caPem, certPem, keyPem] = await Promise.all([
      readFile(files.caFile, 'utf8'),
      readFile(files.certFile, 'utf8'),
      readFile(files.keyFile, 'utf8'),
    ])
    const caKey = await readFile(pkiPaths(stateDir).caKey, 'utf8').catch(() => null)
    return { caPem, certPem, keyPem, ...(caKey ? { login: etcdLogin(caKey, nodeId) } : {}) }
  } catch {
    return null
  }
}
