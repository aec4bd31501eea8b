import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import type { RevocationList } from '../pki/revocations.js'
import {
  pkiPaths,
  readKeyFile,
  readRevocationsFile,
  readTextIfExists,
  writeCertAndKey,
  writeCertFile,
  writeRevocationsFile,
} from '../pki/store.js'
import { type ClusterFile, writeClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'

const Approvals = z.object({ v: z.literal(1), nodeIds: z.array(z.string().max(64)).max(1024) })

/** Where trust state lives in the state directory; every write atomic, keys 0600. */
export class TrustStore {
  private readonly paths
  private readonly pki

  constructor(stateDir: string) {
    this.paths = statePaths(stateDir)
    this.pki = pkiPaths(stateDir)
  }

  async load(): Promise<{
    caPem: string | null
    caKeyPem: string | null
    node: { certPem: string; keyPem: string } | null
    revocations: RevocationList | undefined
    approvals: string[]
  }> {
    const caPem = (await readTextIfExists(this.pki.caCert)) ?? null
    const caKeyPem = (await readKeyFile(this.pki.caKey)) ?? null
    const certPem = await readTextIfExists(this.pki.nodeCert)
    const keyPem = await readKeyFile(this.pki.nodeKey)
    const revocations = await readRevocationsFile(this.pki.revocations).catch(() => undefined)
    let approvals: string[] = []
    try {
      approvals = Approvals.parse(JSON.parse(await readFile(this.paths.approvals, 'utf8'))).nodeIds
    } catch {
      approvals = []
    }
    return { caPem, caKeyPem, node: certPem && keyPem ? { certPem, keyPem } : null, revocations, approvals }
  }

  /** The join key: generated once and kept, so retries after a restart reuse it. */
  async joinKey(generate: () => string): Promise<string> {
    const existing = await readKeyFile(this.pki.nodeKey)
    if (existing) return existing
    const keyPem = generate()
    const { writeKeyFile } = await import('../pki/store.js')
    await writeKeyFile(this.pki.nodeKey, keyPem)
    return keyPem
  }

  async saveMembership(m: {
    certPem: string
    keyPem: string
    caPem: string
    cluster: ClusterFile
  }): Promise<void> {
    await writeCertFile(this.pki.caCert, m.caPem)
    await writeCertAndKey(this.pki.profile('agent'), { certPem: m.certPem, keyPem: m.keyPem })
    await writeClusterFile(this.paths.clusterFile, m.cluster)
  }

  async saveCluster(cluster: ClusterFile): Promise<void> {
    await writeClusterFile(this.paths.clusterFile, cluster)
  }

  async saveApprovals(nodeIds: string[]): Promise<void> {
    await writeFileAtomic(this.paths.approvals, `${JSON.stringify({ v: 1, nodeIds })}\n`, 0o600)
  }

  async saveRevocations(list: RevocationList): Promise<void> {
    await writeRevocationsFile(this.pki.revocations, list)
  }
}
