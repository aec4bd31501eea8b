import forge from 'node-forge'
import { z } from 'zod'
import { normalizeSerial, rsaSigner, sha256Md } from './keys.js'

// Revoked certificates travel as one small CA-signed JSON document that every node
// gossips. Each new version carries every earlier entry, so a node that slept through
// several revocations is fully up to date the moment it sees the newest version, and
// merging two copies is just "keep the greater", which converges in any order.

export const revocationEntriesMax = 10_000

export const RevocationEntry = z.object({
  serial: z.string().regex(/^[0-9a-f]{1,64}$/, 'serial: lowercase hex'),
  nodeId: z.string().min(1).max(256),
  revokedAtMs: z.number().int().nonnegative(),
  reason: z.string().max(512),
})
export type RevocationEntry = z.infer<typeof RevocationEntry>

export const RevocationBody = z.object({
  clusterId: z.string().min(1).max(256),
  version: z.number().int().nonnegative(),
  entries: z.array(RevocationEntry).max(revocationEntriesMax),
})
export type RevocationBody = z.infer<typeof RevocationBody>

export const RevocationList = RevocationBody.extend({
  /** RSA PKCS#1 v1.5 SHA-256 by the CA key over signedBytes(), base64. */
  signature: z.string().min(1).max(4096),
})
export type RevocationList = z.infer<typeof RevocationList>

/**
 * The exact bytes the CA signs: a tagged array, so the signature cannot be mistaken for
 * one over any other document and key order in the JSON does not matter.
 */
export function signedBytes(body: RevocationBody): string {
  return JSON.stringify([
    'homecloud-revocations-v1',
    body.clusterId,
    body.version,
    body.entries.map((e) => [e.serial, e.nodeId, e.revokedAtMs, e.reason]),
  ])
}

/** One entry per serial (the earliest revocation wins), sorted by serial. */
export function normalizeEntries(entries: readonly RevocationEntry[]): RevocationEntry[] {
  const bySerial = new Map<string, RevocationEntry>()
  for (const e of entries) {
    const entry = { ...e, serial: normalizeSerial(e.serial) }
    const seen = bySerial.get(entry.serial)
    if (!seen || entry.revokedAtMs < seen.revokedAtMs) bySerial.set(entry.serial, entry)
  }
  return [...bySerial.values()].sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0))
}

export function signRevocations(body: RevocationBody, caKeyPem: string): RevocationList {
  const clean: RevocationBody = {
    clusterId: body.clusterId,
    version: body.version,
    entries: normalizeEntries(body.entries),
  }
  RevocationBody.parse(clean)
  const md = sha256Md()
  md.update(signedBytes(clean), 'utf8')
  const signature = forge.util.encode64(rsaSigner(caKeyPem).sign(md))
  return { ...clean, signature }
}

export type RevocationsVerification =
  | { ok: true; list: RevocationList }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'other-cluster'; message: string }

/** Checks a revocation document from disk or a peer; never throws. */
export function verifyRevocations(
  doc: unknown,
  caPem: string,
  opts: { clusterId?: string } = {},
): RevocationsVerification {
  const parsed = RevocationList.safeParse(doc)
  if (!parsed.success) return { ok: false, reason: 'malformed', message: z.prettifyError(parsed.error) }
  const list = parsed.data
  if (opts.clusterId !== undefined && list.clusterId !== opts.clusterId) {
    return { ok: false, reason: 'other-cluster', message: `revocations of cluster ${list.clusterId}` }
  }
  let good = false
  try {
    const caKey = forge.pki.certificateFromPem(caPem).publicKey as forge.pki.rsa.PublicKey
    const md = sha256Md()
    md.update(signedBytes(list), 'utf8')
    good = caKey.verify(md.digest().bytes(), forge.util.decode64(list.signature))
  } catch {
    good = false
  }
  if (!good)
    return { ok: false, reason: 'bad-signature', message: 'revocation list signature does not verify' }
  return { ok: true, list }
}

/**
 * A total order on lists: higher version first; for two signers that raced to the same
 * version, more entries, then the signature, so every node picks the same winner.
 */
export function compareRevocations(a: RevocationList, b: RevocationList): number {
  return compareRevocationKeys(revocationKey(a), revocationKey(b))
}

/** What the total order looks at: enough to tell, without the entries, which of two lists wins. */
export interface RevocationKey {
  version: number
  count: number
  signature: string
}

export const revocationKey = (l: RevocationList): RevocationKey => ({
  version: l.version,
  count: l.entries.length,
  signature: l.signature,
})

export function compareRevocationKeys(a: RevocationKey, b: RevocationKey): number {
  if (a.version !== b.version) return a.version - b.version
  if (a.count !== b.count) return a.count - b.count
  return a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0
}

/**
 * Pure join of two verified lists: commutative, associative, idempotent. The loser of a
 * same-version race loses its entries until a signer reissues with nextRevocations(),
 * which unions every list it has seen.
 */
export function mergeRevocations(
  a: RevocationList | undefined,
  b: RevocationList | undefined,
): RevocationList | undefined {
  if (!a) return b
  if (!b) return a
  return compareRevocations(a, b) >= 0 ? a : b
}

/** The body of the next version: every entry of every list seen, plus the new ones. */
export function nextRevocations(
  clusterId: string,
  seen: readonly (RevocationList | RevocationBody | undefined)[],
  add: readonly RevocationEntry[] = [],
): RevocationBody {
  const known = seen.filter(
    (l): l is RevocationList | RevocationBody => l !== undefined && l.clusterId === clusterId,
  )
  const version = known.reduce((v, l) => Math.max(v, l.version + 1), 0)
  return { clusterId, version, entries: normalizeEntries([...known.flatMap((l) => l.entries), ...add]) }
}

export function revokedSerials(list: RevocationBody | undefined): Set<string> {
  return new Set((list?.entries ?? []).map((e) => normalizeSerial(e.serial)))
}
