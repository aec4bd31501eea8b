import { HomecloudError } from '../../core/errors.js'
import { idHex } from './ids.js'
import type { EtcdMember } from './members.js'

// `--initial-cluster name=peerURL,...`. With state `existing` etcd compares these peer
// URLs with the running cluster's member list and refuses to start on any difference,
// so the string for a joining member must list every member, started or not.

export interface InitialClusterEntry {
  name: string
  peerUrl: string
}

/** etcd splits on ',' and '='; names and URLs may contain neither (nor spaces). */
const nameRe = /^[^\s,=]+$/
const urlRe = /^https?:\/\/[^\s,=]+$/

export function formatInitialCluster(entries: readonly InitialClusterEntry[]): string {
  if (entries.length === 0) throw invalid('an initial cluster needs at least one member')
  const seen = new Set<string>()
  for (const e of entries) {
    if (!nameRe.test(e.name))
      throw invalid(`member name ${JSON.stringify(e.name)} cannot go in --initial-cluster`)
    if (!urlRe.test(e.peerUrl))
      throw invalid(`peer URL ${JSON.stringify(e.peerUrl)} cannot go in --initial-cluster`)
    if (seen.has(e.peerUrl)) throw invalid(`peer URL ${e.peerUrl} listed twice`)
    seen.add(e.peerUrl)
  }
  return entries.map((e) => `${e.name}=${e.peerUrl}`).join(',')
}

export function parseInitialCluster(text: string): InitialClusterEntry[] {
  const entries = text.split(',').map((part) => {
    const eq = part.indexOf('=')
    const name = eq > 0 ? part.slice(0, eq) : ''
    const peerUrl = eq > 0 ? part.slice(eq + 1) : ''
    if (!nameRe.test(name) || !urlRe.test(peerUrl))
      throw invalid(`malformed initial-cluster entry ${JSON.stringify(part)}`)
    return { name, peerUrl }
  })
  formatInitialCluster(entries) // same checks both ways
  return entries
}

/**
 * The `--initial-cluster` for a member joining with state `existing`, from the member
 * list right after `member add`: every peer URL of every member, the joiner under its
 * own name, other unstarted members under a placeholder (etcd matches by URL only).
 */
export function initialClusterForJoin(
  members: readonly EtcdMember[],
  self: InitialClusterEntry,
): InitialClusterEntry[] {
  if (!members.some((m) => m.peerUrls.includes(self.peerUrl))) {
    throw invalid(`${self.peerUrl} is not in the member list: add the member before starting it`)
  }
  return members.flatMap((m) =>
    m.peerUrls.map((peerUrl) => ({
      name: m.peerUrls.includes(self.peerUrl)
        ? self.name
        : m.name !== ''
          ? m.name
          : `unstarted-${idHex(m.id)}`,
      peerUrl,
    })),
  )
}

function invalid(message: string): HomecloudError {
  return new HomecloudError('ETCD_PROCESS', message)
}
