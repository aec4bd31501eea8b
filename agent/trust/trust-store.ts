import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { RevocationList } from '../pki/revocations.js'
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
import { SignedApproval } from './approval.js'
import { APPROVALS_MAX } from './approvals.js'
import { SignedSettings } from './signed-settings.js'
import { TRUST_LIMITS } from './wire.js'

// v1 held bare node ids, valid on the one signer that wrote them; v2 holds CA-signed
// approvals any signer accepts. A v1 file is read as empty (the admin approves again).
const Approvals = z.object({ v: z.literal(2), approvals: z.array(SignedApproval).max(APPROVALS_MAX) })
/** Raced revocation lists (trust/revocations.ts): schema-checked here, verified by the caller. */
const RacedRevocations = z.object({
  v: z.literal(1),
  lists: z.array(RevocationList).max(TRUST_LIMITS.revocationsRacedMax),
})

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
    revocationsRaced: RevocationList[]
    approvals: SignedApproval[]
    signedSettings: SignedSettings | null
  }> {
    const caPem = (await readTextIfExists(this.pki.caCert)) ?? null
    const caKeyPem = (await readKeyFile(this.pki.caKey)) ?? null
    const certPem = await readTextIfExists(this.pki.nodeCert)
    const keyPem = await readKeyFile(this.pki.nodeKey)
    const revocations = await readRevocationsFile(this.pki.revocations).catch(() => undefined)
    const revocationsRaced = (await readOptional(this.pki.revocationsRaced, RacedRevocations))?.lists ?? []
    const approvals = (await readOptional(this.paths.approvals, Approvals))?.approvals ?? []
    const signedSettings = (await readOptional(this.paths.signedSettings, SignedSettings)) ?? null
    const node = certPem && keyPem ? { certPem, keyPem } : null
    return { caPem, caKeyPem, node, revocations, revocationsRaced, approvals, signedSettings }
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

  /** Our agent certificate and key, and the CA that signed it (joined or renewed). */
  async saveCertificate(m: { certPem: string; keyPem: string; caPem: string }): Promise<void> {
    await writeCertFile(this.pki.caCert, m.caPem)
    await writeCertAndKey(this.pki.profile('agent'), { certPem: m.certPem, keyPem: m.keyPem })
  }

  /** The signed document first: a cluster file whose version has no signature beside it is not passed on. */
  async saveSettings(cluster: ClusterFile, signed: SignedSettings | null): Promise<void> {
    if (signed) await writeFileAtomic(this.paths.signedSettings, `${JSON.stringify(signed)}\n`, 0o644)
    await writeClusterFile(this.paths.clusterFile, cluster)
  }

  async saveApprovals(approvals: SignedApproval[]): Promise<void> {
    await writeFileAtomic(this.paths.approvals, `${JSON.stringify({ v: 2, approvals })}\n`, 0o600)
  }

  /**
   * The winner first, then the raced lists: a crash between the two leaves raced lists
   * the new winner may already hold, which loading filters out (revocationsStart), never
   * a raced entry that is on disk nowhere.
   */
  async saveRevocations(list: RevocationList, raced: readonly RevocationList[]): Promise<void> {
    await writeRevocationsFile(this.pki.revocations, list)
    await writeFileAtomic(this.pki.revocationsRaced, `${JSON.stringify({ v: 1, lists: raced })}\n`, 0o644)
  }
}

/** A small optional file: missing or unreadable is "none" (it is re-learned from peers). */
async function readOptional<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const r = schema.safeParse(JSON.parse(await readFile(path, 'utf8')))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}
