import { execa } from 'execa'
import { EtcdError } from './model/errors.js'
import { snapshotCountDefault } from './spec.js'

// What moving an installed cluster to a newer etcd takes, for the rollout (issue #11).
// etcd supports upgrading one minor release at a time, member by member (stop, start
// the new binary on the same data directory); it raises the cluster version by itself
// once every member runs the new minor, and from then on refuses older binaries.
// docs/architecture.md ("etcd upgrades") has the whole path and why each step exists.

/** The minors an installed cluster passes through, oldest first (Debian 12's 3.4 to the pinned 3.6). */
export const etcdUpgradePath = ['3.4', '3.5', '3.6'] as const
export type EtcdMinor = (typeof etcdUpgradePath)[number]

/** "3.5.0" (a cluster version) or "3.5.36" (a server version) → "3.5"; undefined if not on the path. */
export function minorOf(version: string): EtcdMinor | undefined {
  const m = /^(\d+)\.(\d+)(\.|$)/.exec(version.trim())
  const minor = m ? `${m[1]}.${m[2]}` : ''
  return (etcdUpgradePath as readonly string[]).includes(minor) ? (minor as EtcdMinor) : undefined
}

/**
 * The minor every member must run next, given the cluster version etcd reports;
 * null when the cluster is at the end of the path. An unknown or undecided version
 * (etcd says "not_decided" while members disagree) is an error: never guess.
 */
export function nextEtcdMinor(clusterVersion: string): EtcdMinor | null {
  const minor = minorOf(clusterVersion)
  if (!minor) {
    throw new EtcdError(
      'ETCD_RESPONSE_INVALID',
      `cluster version ${clusterVersion} is not on the upgrade path`,
    )
  }
  const i = etcdUpgradePath.indexOf(minor)
  return etcdUpgradePath[i + 1] ?? null
}

/**
 * 3.5 → 3.6 needs one more thing: etcd 3.6 panics replaying a WAL that still holds
 * v2 requests written under 3.4 (every /health probe of a 3.4 member was a v2 QGET
 * through raft). A member replays only what follows its last raft snapshot, and takes
 * one every `snapshotCount` applied entries, so once every member runs 3.5 this many
 * writes move every member's snapshot past the last 3.4 entry. The key is deleted after.
 */
export async function flushV2Wal(
  client: { put(key: string, value: string): Promise<unknown>; delete(key: string): Promise<unknown> },
  opts: { snapshotCount?: number; concurrency?: number; key?: string } = {},
): Promise<number> {
  const total = (opts.snapshotCount ?? snapshotCountDefault) + 1
  const key = opts.key ?? '/homecloud/upgrade/wal-flush'
  let next = 0
  const writer = async () => {
    while (next < total) await client.put(key, String(next++))
  }
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, writer))
  await client.delete(key)
  return total
}

export type V2StoreCheck = { clean: true } | { clean: false; said: string }

/**
 * etcdutl (3.5.32 or later) `check v2store` on a stopped member's data directory: does
 * its v2 snapshot or its WAL hold anything etcd 3.6 would refuse? The gate before
 * starting 3.6 on that directory.
 */
export async function checkV2Store(etcdutl: string, dataDir: string): Promise<V2StoreCheck> {
  const r = await execa(etcdutl, ['check', 'v2store', `--data-dir=${dataDir}`], {
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  })
  if ((r as { code?: string }).code === 'ENOENT') {
    throw new EtcdError('ETCD_NOT_INSTALLED', `${etcdutl} not found`)
  }
  const out = `${String(r.stdout ?? '')}\n${String(r.stderr ?? '')}`.trim()
  if (r.exitCode === 0 && /No custom content found/.test(out)) return { clean: true }
  return { clean: false, said: out.split('\n').at(-1)?.slice(0, 500) ?? `exit ${r.exitCode}` }
}
