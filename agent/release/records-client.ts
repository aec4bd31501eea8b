import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { type HoldersBody, verifyHolders } from '../../control/releases/holders.js'
import {
  type CaRecordDomain,
  CURRENT_KEY,
  CurrentBody,
  HOLDERS_PREFIX,
  KEYS_KEY,
  KeysBody,
  MANIFEST_PREFIX,
  PublishedRelease,
  verifyCaRecord,
} from '../../control/releases/records.js'
import { ROLLOUT_KEY, RolloutBody } from '../../control/rollout/record.js'
import type { Counters } from '../core/counters.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import type { KeyValue } from '../etcd/model/types.js'
import { parseRelease, type Release } from './manifest.js'
import type { RecordsEtcd } from './records-relay.js'
import { checkSignature } from './signature.js'

// Reads the cluster's release records from etcd and believes only what verifies: the
// key set and `current` by the CA signature and a version not below the highest seen
// (kept in <state>/releases/seen.json, so a restart does not forget and accept a
// replay), each published manifest by a trusted release key, each node's holders record
// by that member's identity key (control/releases/holders.ts). The rollout record too
// (CA-signed, versioned alike): its targets stay wanted while it installs them.

export const RECORD_REFUSED = 'homecloud_release_records_refused_total'
/** Writes to one record between two reads that are looked at (a member could write many). */
const missedWritesMax = 16
const Seen = z.object({
  keys: z.number().int().nonnegative(),
  current: z.number().int().nonnegative(),
  /** Absent in a seen.json written before the rollout record was read. */
  rollout: z.number().int().nonnegative().default(0),
})

export interface PublishedEntry {
  release: Release
  sigText: string
  publishedAtMs: number
  origin: string
  signedBy: string
}

/** What one node holds (its own signed record). */
export type HolderEntry = Omit<HoldersBody, 'v'>

export class ReleaseRecords {
  keys: KeysBody | null = null
  current: CurrentBody | null = null
  /** The rollout record (control/rollout/record.ts): which releases it still installs. */
  rollout: RolloutBody | null = null
  /** etcd mod revision of the current record as read (0: absent): writers compare on it. */
  currentRev = 0
  readonly published = new Map<string, PublishedEntry>()
  holders: HolderEntry[] = []
  /** Refusals of the last read, for the status view. */
  problems: string[] = []
  private seen = { keys: 0, current: 0, rollout: 0 }
  /** Each CA-signed record's key as last read (its etcd revisions), to find writes made in between. */
  private readonly lastRead = new Map<string, KeyValue>()
  private readonly logged = new Set<string>()

  constructor(
    private readonly init: { clusterId: string; seenFile: string },
    private readonly c: {
      log: Logger
      counters: Counters
      caPem: () => string | null
      /** The identity key (hex) of a member by node id; null: not a member. */
      memberKey: (nodeId: string) => string | null
    },
  ) {}

  async load(): Promise<void> {
    const text = await readFile(this.init.seenFile, 'utf8').catch(() => null)
    const r = text ? Seen.safeParse(JSON.parse(text)) : null
    if (r?.success) this.seen = r.data
  }

  trusted(): Set<string> {
    return new Set((this.keys?.keys ?? []).map((k) => k.key))
  }

  async refresh(etcd: RecordsEtcd): Promise<void> {
    const caPem = this.c.caPem()
    if (!caPem) return
    const problems: string[] = []
    const [keysKv, currentKv, manifests, holders, rolloutKv] = await Promise.all([
      etcd.get(KEYS_KEY),
      etcd.get(CURRENT_KEY),
      etcd.getPrefix(MANIFEST_PREFIX),
      etcd.getPrefix(HOLDERS_PREFIX),
      // A voter's relay from before the rollout record was relayed refuses it: without it
      // nothing is pinned (the rollout's last record read stays), and the rest goes on.
      etcd.get(ROLLOUT_KEY).catch((err: Error) => err),
    ])
    const ctx = { caPem, clusterId: this.init.clusterId }
    if (keysKv) {
      const v = await this.readCaRecord(etcd, keysKv, 'release-keys', KeysBody, this.keys, {
        ...ctx,
        seenVersion: this.seen.keys,
      })
      this.keys = v.body
      if (v.error) problems.push(v.error)
    }
    this.currentRev = currentKv?.modRevision ?? 0
    if (currentKv) {
      const v = await this.readCaRecord(etcd, currentKv, 'release-current', CurrentBody, this.current, {
        ...ctx,
        seenVersion: this.seen.current,
      })
      this.current = v.body
      if (v.error) problems.push(v.error)
    }
    if (rolloutKv instanceof Error) problems.push(`${ROLLOUT_KEY} could not be read: ${rolloutKv.message}`)
    else if (rolloutKv) {
      const v = await this.readCaRecord(etcd, rolloutKv, 'rollout', RolloutBody, this.rollout, {
        ...ctx,
        seenVersion: this.seen.rollout,
      })
      this.rollout = v.body
      if (v.error) problems.push(v.error)
    }
    await this.remember()
    const trusted = this.trusted()
    for (const kv of manifests) {
      const id = kv.key.slice(MANIFEST_PREFIX.length)
      if (this.published.has(id) && trusted.has(this.published.get(id)!.signedBy)) continue
      this.published.delete(id)
      const why = this.readPublished(id, kv.value, trusted)
      if (why) problems.push(why)
    }
    this.holders = holders.flatMap((kv) => {
      // A node that is no longer a member: its last record says nothing to anyone.
      const key = this.c.memberKey(kv.key.slice(HOLDERS_PREFIX.length))
      if (!key) return []
      const v = verifyHolders(kv.key, kv.value, key)
      if (!v.ok) problems.push(v.error)
      return v.ok ? [v.body] : []
    })
    for (const p of problems) {
      if (this.logged.has(p)) continue
      this.logged.add(p)
      this.c.counters.inc(RECORD_REFUSED)
      this.c.log.warn({ err: p, code: 'RELEASE_RECORD_INVALID' }, 'release record refused')
    }
    this.problems = problems
  }

  /**
   * A CA-signed record as it stands, checked also against the writes made to its key since
   * this node last read it: the records are polled, so a member replaying an older record
   * right after an admin's write would otherwise hide the newer one from every node that
   * had not polled in between. The newest verified record among those writes counts as
   * seen (and is kept, when the one standing is refused as older).
   */
  private async readCaRecord<T extends { clusterId: string; version: number }>(
    etcd: RecordsEtcd,
    kv: KeyValue,
    domain: CaRecordDomain,
    schema: z.ZodType<T>,
    held: T | null,
    ctx: { caPem: string; clusterId: string; seenVersion: number },
  ): Promise<{ body: T | null; error: string | null }> {
    const last = this.lastRead.get(kv.key)
    this.lastRead.set(kv.key, kv)
    let best = held
    // Walk back through the writes this node did not read (bounded; compacted history ends the walk).
    let rev = last && kv.version !== last.version + 1 ? kv.modRevision - 1 : 0
    for (let i = 0; i < missedWritesMax && last && rev > last.modRevision; i++) {
      const old = await etcd.get(kv.key, { revision: rev }).catch(() => undefined)
      if (!old || old.modRevision <= last.modRevision) break
      const v = verifyCaRecord(domain, old.value, schema, ctx)
      if (v.ok && v.body.version > (best?.version ?? 0)) best = v.body
      rev = old.modRevision - 1
    }
    const seenVersion = Math.max(ctx.seenVersion, best?.version ?? 0)
    const v = verifyCaRecord(domain, kv.value, schema, { ...ctx, seenVersion })
    return v.ok ? { body: v.body, error: null } : { body: best, error: v.error }
  }

  /** Verifies one published manifest; returns why it is refused, or null. */
  private readPublished(id: string, value: string, trusted: ReadonlySet<string>): string | null {
    const v = verifyPublished(id, value, trusted)
    if (!v.ok) return v.error
    this.published.set(id, v.entry)
    return null
  }

  private async remember(): Promise<void> {
    const next = {
      keys: Math.max(this.seen.keys, this.keys?.version ?? 0),
      current: Math.max(this.seen.current, this.current?.version ?? 0),
      rollout: Math.max(this.seen.rollout, this.rollout?.version ?? 0),
    }
    if (
      next.keys === this.seen.keys &&
      next.current === this.seen.current &&
      next.rollout === this.seen.rollout
    )
      return
    this.seen = next
    await writeFileAtomic(this.init.seenFile, JSON.stringify(next), 0o644)
  }

  get seenVersions(): { keys: number; current: number; rollout: number } {
    return { ...this.seen }
  }
}

/**
 * Pure: one published-release record (the value under MANIFEST_PREFIX + id) — its schema,
 * a manifest that hashes to the id in its key, and a signature by a trusted release key.
 * Readers use it on every record, and a voter on an announcement a worker relays.
 */
export function verifyPublished(
  id: string,
  value: string,
  trusted: ReadonlySet<string>,
): { ok: true; entry: PublishedEntry } | { ok: false; error: string } {
  const where = `${MANIFEST_PREFIX}${id.slice(0, 12)}…`
  let entry: PublishedRelease
  try {
    entry = PublishedRelease.parse(JSON.parse(value))
  } catch {
    return { ok: false, error: `${where}: not a published release record` }
  }
  let release: Release
  try {
    release = parseRelease(Buffer.from(entry.manifest, 'base64'))
  } catch (err) {
    return { ok: false, error: `${where}: ${(err as Error).message}` }
  }
  if (release.id !== id)
    return { ok: false, error: `${where}: the manifest hashes to ${release.id.slice(0, 12)}…, not its key` }
  const check = checkSignature(release.manifestBytes, entry.sig, trusted)
  if (!check.ok) return { ok: false, error: `${where}: ${check.message}` }
  return {
    ok: true,
    entry: {
      release,
      sigText: entry.sig,
      publishedAtMs: entry.publishedAtMs,
      origin: entry.origin,
      signedBy: check.key,
    },
  }
}
