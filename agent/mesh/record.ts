import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { isIP } from 'node:net'
import { z } from 'zod'
import { canonicalJson } from '../core/canonical.js'
import { FactsSummary } from '../facts/summary.js'
import { type Identity, nodeIdFromPublicKey } from '../identity/identity.js'
import { ClusterId } from './cluster-id.js'

export const ROLES = ['etcd-voter', 'etcd-learner', 'control-plane', 'worker', 'coordinator'] as const
export const Role = z.enum(ROLES)
export type Role = z.infer<typeof Role>

const Port = z.number().int().min(1).max(65535)
const Hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))

/** Printable text only: names reach terminals and the status page. */
export const NodeName = z
  .string()
  .min(1)
  .max(63)
  .refine(
    (s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    'control characters are not allowed',
  )

export const NodeRecordBody = z.object({
  v: z.literal(1),
  cluster: ClusterId,
  id: Hex(10),
  publicKey: Hex(32),
  name: NodeName,
  addresses: z
    .array(z.string().refine((a) => isIP(a) !== 0, 'not an IP address'))
    .min(1)
    .max(8),
  ports: z.object({ api: Port, tls: Port, dht: Port }),
  facts: FactsSummary,
  version: z.string().min(1).max(32),
  roles: z.array(Role).max(ROLES.length),
  /** Bumped on every restart and whenever the node refutes a suspicion about itself. */
  incarnation: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Advances every heartbeat interval within one incarnation: fresh evidence of life. */
  heartbeat: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  startedAtMs: z.number().int().nonnegative(),
})
export type NodeRecordBody = z.infer<typeof NodeRecordBody>

export const SignedRecord = z.object({
  body: NodeRecordBody,
  sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'an ed25519 signature in base64'),
})
export type SignedRecord = z.infer<typeof SignedRecord>

const DOMAIN = 'homecloud/record/v1\n'

function signedBytes(body: NodeRecordBody): Buffer {
  return Buffer.from(DOMAIN + canonicalJson(body))
}

export function signRecord(body: NodeRecordBody, identity: Identity): SignedRecord {
  return { body, sig: sign(null, signedBytes(body), identity.privateKey).toString('base64') }
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Checks the signature and that the id really is derived from the signing key. */
export function verifyRecord(rec: SignedRecord): boolean {
  return new RecordVerifier(0).verify(rec)
}

/**
 * verifyRecord with the per-key work remembered: deriving the node id (sha256) and
 * building the key object cost as much as the signature check itself, and a member's
 * key never changes, so a mesh verifying every member's heartbeat does them once.
 * Bounded: past `keysMax` distinct keys the memory starts over.
 */
export class RecordVerifier {
  private readonly keys = new Map<string, { id: string; key: KeyObject } | null>()

  constructor(private readonly keysMax = 4096) {}

  verify(rec: SignedRecord): boolean {
    const k = this.keyFor(rec.body.publicKey)
    if (!k || k.id !== rec.body.id) return false
    try {
      return verify(null, signedBytes(rec.body), k.key, Buffer.from(rec.sig, 'base64'))
    } catch {
      return false
    }
  }

  private keyFor(publicKeyHex: string): { id: string; key: KeyObject } | null {
    const known = this.keys.get(publicKeyHex)
    if (known !== undefined) return known
    const pub = Buffer.from(publicKeyHex, 'hex')
    let entry: { id: string; key: KeyObject } | null
    try {
      const key = createPublicKey({
        key: Buffer.concat([SPKI_ED25519_PREFIX, pub]),
        format: 'der',
        type: 'spki',
      })
      entry = { id: nodeIdFromPublicKey(pub), key }
    } catch {
      entry = null
    }
    if (this.keysMax > 0) {
      if (this.keys.size >= this.keysMax) this.keys.clear()
      this.keys.set(publicKeyHex, entry)
    }
    return entry
  }
}

/** Is `a` strictly newer evidence than `b` about the same node? */
export function isNewer(
  a: Pick<NodeRecordBody, 'incarnation' | 'heartbeat'>,
  b: Pick<NodeRecordBody, 'incarnation' | 'heartbeat'>,
): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.heartbeat > b.heartbeat)
}
