import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../../agent/core/canonical.js'
import { ReleaseKeyHex } from '../../agent/release/signature.js'

// The cluster's release decisions in etcd. Any client certificate of the CA can write
// etcd, so the two records that decide what the cluster runs are signed with the CA
// key (held by signers only: the founder and the etcd voters, so the coordinator too)
// and versioned: a node believes a record only if the CA signature verifies and its
// version is not lower than one it has already seen, so a member can neither forge a
// key set nor replay an older one (a "downgrade").
//
//   /homecloud/releases/keys              release public keys the cluster trusts
//   /homecloud/releases/current           per architecture: the current release and the one before it
//   /homecloud/releases/manifest/<id>     a published release: manifest + its release signature
//                                         (self-verifying through the trusted keys)
//   /homecloud/releases/holders/<node>    what one node holds, signed by that node's key (status only)
//
// The A/B rollout (issue 14) moves `current` with the same signer: `setCurrent` below.

export const RELEASES_PREFIX = '/homecloud/releases/'
export const KEYS_KEY = `${RELEASES_PREFIX}keys`
export const CURRENT_KEY = `${RELEASES_PREFIX}current`
export const MANIFEST_PREFIX = `${RELEASES_PREFIX}manifest/`
export const HOLDERS_PREFIX = `${RELEASES_PREFIX}holders/`
export const trustedKeysMax = 16

const Sha = z.string().regex(/^[0-9a-f]{64}$/)

export const KeysBody = z
  .object({
    v: z.literal(1),
    clusterId: z.string().min(1).max(64),
    version: z.number().int().positive(),
    keys: z
      .array(
        z.object({
          key: ReleaseKeyHex,
          addedAtMs: z.number().int().nonnegative(),
          note: z.string().max(100).optional(),
        }),
      )
      .max(trustedKeysMax),
  })
  .strict()
export type KeysBody = z.infer<typeof KeysBody>

export const ArchCurrent = z
  .object({
    id: Sha,
    version: z.string().max(64),
    /** The release that was current before: what a failed upgrade goes back to. */
    previous: z.object({ id: Sha, version: z.string().max(64) }).optional(),
    setAtMs: z.number().int().nonnegative(),
    /** Who moved it and why: `first-publish`, `admin`, later `rollout`. */
    by: z.string().max(100),
  })
  .strict()
export type ArchCurrent = z.infer<typeof ArchCurrent>

export const CurrentBody = z
  .object({
    v: z.literal(1),
    clusterId: z.string().min(1).max(64),
    version: z.number().int().positive(),
    archs: z.object({ amd64: ArchCurrent.optional(), arm64: ArchCurrent.optional() }).strict(),
  })
  .strict()
export type CurrentBody = z.infer<typeof CurrentBody>

export const PublishedRelease = z
  .object({
    v: z.literal(1),
    /** manifest.json bytes, base64 (its sha256 is the id in the key). */
    manifest: z.string().max(2 * 1024 * 1024),
    sig: z.string().max(1024),
    publishedAtMs: z.number().int().nonnegative(),
    /** The node it was uploaded to (the origin of the first copy). */
    origin: z.string().max(64),
  })
  .strict()
export type PublishedRelease = z.infer<typeof PublishedRelease>

const Signed = z.object({ body: z.unknown(), sig: z.string().min(1).max(2048) }).strict()

/** What a CA-signed record is about: the domain tag its signature covers (a signature never fits another kind). */
export type CaRecordDomain = 'release-keys' | 'release-current' | 'rollout' | 'slot-order'

const domainKeys: Record<CaRecordDomain, string> = {
  'release-keys': KEYS_KEY,
  'release-current': CURRENT_KEY,
  rollout: '/homecloud/rollout',
  'slot-order': 'a slot order',
}

const bytesOf = (domain: string, body: unknown) =>
  Buffer.from(`homecloud/${domain}/v1\n${canonicalJson(body)}`)

/** Signs a record body with the CA key: the value to put in etcd. */
export function signCaRecord(domain: CaRecordDomain, body: unknown, caKeyPem: string): string {
  const sig = sign('sha256', bytesOf(domain, body), createPrivateKey(caKeyPem)).toString('base64')
  return JSON.stringify({ body, sig })
}

export type Verified<T> = { ok: true; body: T } | { ok: false; error: string }

/**
 * A stored value → its body, or why it is refused: not JSON, not `{body, sig}`, the body
 * fails its schema, the CA signature does not verify, another cluster, or older than
 * `seenVersion` (a replayed record).
 */
export function verifyCaRecord<T extends { clusterId: string; version: number }>(
  domain: CaRecordDomain,
  text: string,
  schema: z.ZodType<T>,
  ctx: { caPem: string; clusterId: string; seenVersion?: number },
): Verified<T> {
  const where = domainKeys[domain]
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, error: `${where} is not JSON` }
  }
  const outer = Signed.safeParse(json)
  if (!outer.success) return { ok: false, error: `${where} is not a signed record {body, sig}` }
  const body = schema.safeParse(outer.data.body)
  if (!body.success) {
    const issue = body.error.issues[0]
    return { ok: false, error: `${where}: ${issue?.path.join('.') || 'body'}: ${issue?.message}` }
  }
  let good = false
  try {
    const key = createPublicKey(
      new X509Certificate(ctx.caPem).publicKey.export({ format: 'pem', type: 'spki' }),
    )
    good = verify('sha256', bytesOf(domain, outer.data.body), key, Buffer.from(outer.data.sig, 'base64'))
  } catch {
    good = false
  }
  if (!good) return { ok: false, error: `${where}: not signed by this cluster's CA` }
  if (body.data.clusterId !== ctx.clusterId) return { ok: false, error: `${where}: for another cluster` }
  if (ctx.seenVersion !== undefined && body.data.version < ctx.seenVersion)
    return {
      ok: false,
      error: `${where}: version ${body.data.version} is older than version ${ctx.seenVersion} already seen (a replayed record)`,
    }
  return { ok: true, body: body.data }
}

/** Pure: the key set with one more key (already there: unchanged but for the version). */
export function withKey(
  prev: KeysBody | null,
  clusterId: string,
  key: string,
  nowMs: number,
  note?: string,
): KeysBody {
  const keys = prev?.keys ?? []
  return {
    v: 1,
    clusterId,
    version: (prev?.version ?? 0) + 1,
    keys: keys.some((k) => k.key === key)
      ? keys
      : [...keys, { key, addedAtMs: nowMs, ...(note ? { note } : {}) }],
  }
}

/** Pure: the key set without a key. */
export function withoutKey(prev: KeysBody, key: string): KeysBody {
  return { ...prev, version: prev.version + 1, keys: prev.keys.filter((k) => k.key !== key) }
}

/**
 * Pure: `current` with one architecture moved to a release (the old current becomes
 * `previous`). Setting the release that is already current changes nothing (null).
 */
export function setCurrent(
  prev: CurrentBody | null,
  clusterId: string,
  arch: 'amd64' | 'arm64',
  to: { id: string; version: string },
  by: string,
  nowMs: number,
): CurrentBody | null {
  const old = prev?.archs[arch]
  if (old?.id === to.id) return null
  const entry: ArchCurrent = {
    id: to.id,
    version: to.version,
    ...(old ? { previous: { id: old.id, version: old.version } } : {}),
    setAtMs: nowMs,
    by,
  }
  return {
    v: 1,
    clusterId,
    version: (prev?.version ?? 0) + 1,
    archs: { ...(prev?.archs ?? {}), [arch]: entry },
  }
}

/** The ids a node keeps whatever the room: current and previous of every architecture. */
export function protectedIds(current: CurrentBody | null): Set<string> {
  const out = new Set<string>()
  for (const a of Object.values(current?.archs ?? {})) {
    if (!a) continue
    out.add(a.id)
    if (a.previous) out.add(a.previous.id)
  }
  return out
}

export interface PublishedInfo {
  id: string
  arch: 'amd64' | 'arm64'
  publishedAtMs: number
}

/**
 * Releases published after an architecture's current one that every node fetches and
 * keeps: the candidates a rollout may move to. More than one, so two releases published
 * together (a bad one and its fix) both spread; a bound, so a stream of publishes
 * without a rollout does not fill every node's disk — past it the oldest candidate is
 * given up, on every node alike.
 */
export const candidatesPerArchMax = 2

/** The order releases were published in (the id breaks a tie, so every node orders them alike). */
export const publishOrder = (a: PublishedInfo, b: PublishedInfo): number =>
  a.publishedAtMs - b.publishedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Pure: the releases every node fetches and keeps — per architecture the current one,
 * the previous one, and the newest candidatesPerArchMax published after the current
 * release was (the candidates a rollout moves to). With no current yet, the release
 * that will become current (the first published: first-publish) and the newest after
 * it. Everything else may be removed when room is needed.
 *
 * The same on every node and steady while a rollout runs: a release stays wanted until
 * a rollout moves current past it or newer candidates push it out. Candidates count
 * from the current release's publish time, not the time it was set: a release
 * published while the current one was being decided (first-publish a moment after two
 * publishes, a rollout finishing after the next publish) is still newer than it.
 *
 * `pinned`: the targets of the rollout still installing them (control/rollout/record.ts
 * pinnedTargets), wanted whatever was published after them — else two newer publishes
 * during a rollout would make every node give up the release it is installing.
 */
export function wantedIds(
  published: readonly PublishedInfo[],
  current: CurrentBody | null,
  pinned: readonly string[] = [],
): Set<string> {
  const out = protectedIds(current)
  for (const id of pinned) out.add(id)
  const known = new Map(published.map((p) => [p.id, p]))
  for (const id of [...out]) if (!known.has(id)) out.delete(id)
  for (const arch of ['amd64', 'arm64'] as const) {
    const ofArch = published.filter((p) => p.arch === arch).sort(publishOrder)
    const cur = current?.archs[arch]
    const base = cur ? known.get(cur.id) : ofArch[0]
    if (!cur && base) out.add(base.id)
    // A current release whose manifest record is unknown here: count from when it was set.
    const newer = base
      ? ofArch.slice(ofArch.indexOf(base) + 1)
      : ofArch.filter((p) => p.publishedAtMs > (cur?.setAtMs ?? -Infinity))
    for (const p of newer.slice(-candidatesPerArchMax)) out.add(p.id)
  }
  return out
}
