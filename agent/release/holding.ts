// Pure: what one node does with its store and downloads after each read of the release
// records. Every node decides on the same records (wantedIds), so what a node keeps
// serving is what the others may still be fetching. A transfer ends one of two ways:
// finished (complete and verified: the download stops, the release stays and is served),
// or abandoned, when the cluster no longer wants the release — its partial copy is
// removed and no longer announced, so no node is left holding and offering half a
// release nobody will finish. A complete release outside the wanted set stays until
// room is needed (the store's keep rule); an admin's upload in progress (not published
// yet) is never touched.

/**
 * Releases this node gave up because the cluster no longer wants them, by `held`:
 * `part` (abandoned part-way, below; or a partial copy removed for room) or `whole` (a
 * complete one removed when room was needed, store.ts ensureRoom). An operator sees
 * releases being given up here (metrics) — e.g. more publishes than nodes can keep.
 */
export const ABANDONED = 'homecloud_release_abandoned_total'

/** The label of ABANDONED for a release given up. */
export const abandonedLabels = (complete: boolean): { held: 'part' | 'whole' } => ({
  held: complete ? 'whole' : 'part',
})

export interface HeldRelease {
  id: string
  complete: boolean
}

export interface HoldingInput {
  /** Published releases every node fetches and keeps now (control/releases wantedIds). */
  wanted: ReadonlySet<string>
  /** What the store must keep whatever the room: wanted ∪ current ∪ previous. */
  keep: ReadonlySet<string>
  /** Releases with a verified published record. */
  published: ReadonlySet<string>
  held: readonly HeldRelease[]
  /** Releases this node is downloading now. */
  downloading: ReadonlySet<string>
}

export type HoldingEffect =
  /** Hold it (added to the store if absent) and fetch its missing pieces (a running download goes on). */
  | { kind: 'fetch'; id: string }
  /** Its download ends: complete, or no longer wanted but kept. */
  | { kind: 'stop'; id: string }
  /** No longer wanted and incomplete: stop fetching, stop announcing it, remove the partial copy. */
  | { kind: 'abandon'; id: string }

/** The effects in the order to apply them: ends first, so a fetch sees what they left. */
export function decideHolding(x: HoldingInput): HoldingEffect[] {
  const held = new Map(x.held.map((h) => [h.id, h]))
  const abandoned = (h: HeldRelease | undefined) =>
    !!h && !h.complete && !x.keep.has(h.id) && !x.wanted.has(h.id) && x.published.has(h.id)
  const out: HoldingEffect[] = []
  for (const id of [...x.downloading].sort()) {
    const h = held.get(id)
    if (abandoned(h)) out.push({ kind: 'abandon', id })
    else if (!h || h.complete || !x.wanted.has(id)) out.push({ kind: 'stop', id })
  }
  for (const h of x.held)
    if (!x.downloading.has(h.id) && abandoned(h)) out.push({ kind: 'abandon', id: h.id })
  for (const id of [...x.wanted].sort()) {
    const h = held.get(id)
    if (!h || !h.complete) out.push({ kind: 'fetch', id })
  }
  return out
}
