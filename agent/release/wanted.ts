import { protectedIds, publishOrder, wantedIds } from '../../control/releases/records.js'
import { pinnedTargets } from '../../control/rollout/record.js'
import type { PublishedEntry, ReleaseRecords } from './records-client.js'

// Pure: what the release records say this node should hold, read the same way on every
// node so all of them agree (control/releases wantedIds). The service applies it.

/** The parts of the records these answers read. */
export type RecordsRead = Pick<ReleaseRecords, 'published' | 'current' | 'rollout'>

/** What every node fetches and keeps now (control/releases wantedIds). */
export function wantedSet(r: RecordsRead): Set<string> {
  return wantedIds([...r.published.values()].map(infoOf), r.current, pinnedTargets(r.rollout))
}

/** What the store must keep whatever the room: wanted releases (given when already read), current and previous. */
export function keepSet(r: RecordsRead, wanted: ReadonlySet<string> = wantedSet(r)): Set<string> {
  return new Set([...wanted, ...protectedIds(r.current)])
}

/**
 * The release a signer makes current for an architecture that has none: the first one
 * published for it (until a rollout moves it); null when it has one or none is published.
 */
export function firstCurrentFor(r: RecordsRead, arch: 'amd64' | 'arm64'): PublishedEntry | null {
  if (r.current?.archs[arch]) return null
  const first = [...r.published.values()]
    .filter((p) => p.release.manifest.arch === arch)
    .sort((a, b) => publishOrder(infoOf(a), infoOf(b)))[0]
  return first ?? null
}

const infoOf = (p: PublishedEntry) => ({
  id: p.release.id,
  arch: p.release.manifest.arch,
  publishedAtMs: p.publishedAtMs,
})
