import type { CurrentBody, KeysBody } from '../../control/releases/records.js'
import { releaseBytes } from './manifest.js'
import type { HolderEntry, PublishedEntry } from './records-client.js'

// GET /api/v1/releases: every known release, which nodes hold it complete, which is
// current per architecture, and this node's own store and downloads. Pure: built from
// what the service read.

export interface ReleasesViewInput {
  self: { id: string; name: string }
  published: readonly PublishedEntry[]
  current: CurrentBody | null
  keys: KeysBody | null
  holders: readonly HolderEntry[]
  names: ReadonlyMap<string, string>
  local: {
    /** `bits`: the pieces held, base64 of one bit per piece (tests and the benchmark read it). */
    held: { id: string; version: string; have: number; of: number; bits: string }[]
    downloads: { id: string; have: number; of: number; dropped: string[]; problem: string | null }[]
    problem: string | null
    uploadedBytes: Record<string, number>
  }
  problems: readonly string[]
}

export function buildReleasesView(x: ReleasesViewInput) {
  const currentIds = new Map(
    Object.entries(x.current?.archs ?? {}).flatMap(([arch, c]) => (c ? [[c.id, arch] as const] : [])),
  )
  const releases = [...x.published]
    .sort((a, b) => b.publishedAtMs - a.publishedAtMs)
    .map((p) => {
      const holders = x.holders.flatMap((h) => {
        const e = h.held.find((r) => r.id === p.release.id)
        return e ? [{ node: h.node, name: h.name, have: e.have, of: e.of, complete: e.have === e.of }] : []
      })
      return {
        id: p.release.id,
        version: p.release.manifest.version,
        arch: p.release.manifest.arch,
        kube: p.release.manifest.kube ?? false,
        bytes: releaseBytes(p.release.manifest),
        publishedAtMs: p.publishedAtMs,
        origin: { id: p.origin, name: x.names.get(p.origin) ?? null },
        signedBy: p.signedBy,
        current: currentIds.has(p.release.id),
        completeOn: holders.filter((h) => h.complete).map((h) => h.name),
        holders,
      }
    })
  return {
    self: x.self,
    current: x.current?.archs ?? {},
    currentVersion: x.current?.version ?? 0,
    trustedKeys: (x.keys?.keys ?? []).map((k) => ({
      key: k.key,
      addedAtMs: k.addedAtMs,
      note: k.note ?? null,
    })),
    keysVersion: x.keys?.version ?? 0,
    releases,
    problems: [...x.problems, ...x.holders.flatMap((h) => (h.problem ? [`${h.name}: ${h.problem}`] : []))],
    local: x.local,
  }
}
export type ReleasesView = ReturnType<typeof buildReleasesView>
