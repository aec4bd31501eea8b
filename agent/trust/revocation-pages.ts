import type { RevocationEntry, RevocationList } from '../pki/revocations.js'
import type { RevocationsPage, TrustMessage } from './wire.js'

// A revocation list is one CA-signed document, and it grows with the cluster: each entry
// is ~160 bytes, so past ~400 entries it no longer fits the mesh's 64 KiB frame and a
// receiver drops the frame (and the connection) as oversized. A community cluster of
// hundreds of machines revokes that many over the years. So a list too big for one frame
// travels in pages: each page repeats the list's head (version, entry count, signature)
// and carries a run of its entries, in the list's own (sorted) order. The signature stays
// over the whole list: a receiver collects the pages of one head — from any peers, since
// the same list always splits the same way — and verifies the list it rebuilt exactly as
// it would one that came whole. Nothing is trusted before that check.
//
//   list ─▶ fits one frame? ─▶ `revocations {list}`
//                └─ no ──────▶ `revocations-page {head, index, pages, entries}` × pages
//   page ─▶ a list we hold? ─▶ ignored
//     └─ no ─▶ kept (≤ ASSEMBLIES_MAX heads) ─▶ all pages? ─▶ rebuilt list (then verified)

/** A list whose whole message is at most this long goes as one frame (the frame is 64 KiB). */
export const REVOCATIONS_WHOLE_BYTES_MAX = 56 * 1024
/** Entries of one page, in JSON bytes: with the head (signature ≤ 4 KiB) well inside a frame. */
export const REVOCATION_PAGE_BYTES_MAX = 48 * 1024
/** Lists being collected at once (a new one and a raced one); more evicts the oldest. */
export const ASSEMBLIES_MAX = 2
/** A list whose pages stopped coming this long ago is dropped (anti-entropy sends it again). */
export const ASSEMBLY_FORGET_MS = 60_000

export type RevocationsHead = RevocationsPage['head']

/** The messages that carry `list`: itself when it fits one frame, else its pages. */
export function revocationMessages(list: RevocationList): TrustMessage[] {
  const whole: TrustMessage = { t: 'revocations', list }
  if (Buffer.byteLength(JSON.stringify(whole)) <= REVOCATIONS_WHOLE_BYTES_MAX) return [whole]
  const head = {
    clusterId: list.clusterId,
    version: list.version,
    count: list.entries.length,
    signature: list.signature,
  }
  const runs = pageRuns(list.entries)
  return runs.map((entries, index) => ({ t: 'revocations-page', head, index, pages: runs.length, entries }))
}

/** Entries cut into runs of at most REVOCATION_PAGE_BYTES_MAX JSON bytes, in order. */
function pageRuns(entries: readonly RevocationEntry[]): RevocationEntry[][] {
  const runs: RevocationEntry[][] = []
  let run: RevocationEntry[] = []
  let bytes = 0
  for (const e of entries) {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1
    if (run.length > 0 && bytes + size > REVOCATION_PAGE_BYTES_MAX) {
      runs.push(run)
      run = []
      bytes = 0
    }
    run.push(e)
    bytes += size
  }
  if (run.length > 0) runs.push(run)
  return runs
}

interface Assembly {
  readonly head: RevocationsHead
  readonly pages: number
  readonly got: ReadonlyMap<number, readonly RevocationEntry[]>
  readonly lastMs: number
}

/** Lists being collected, by head (version and signature). */
export interface PagesState {
  readonly assemblies: ReadonlyMap<string, Assembly>
}

export type PageOutcome =
  | { kind: 'kept' }
  /** A list we hold (the winner or a raced one): not worth collecting. */
  | { kind: 'ignored' }
  /** Every page arrived: the list as signed, still to be verified. */
  | { kind: 'complete'; list: RevocationList }
  /** Pages that cannot belong to one signed list (the assembly is dropped). */
  | { kind: 'refused'; message: string }

export function pagesStart(): PagesState {
  return { assemblies: new Map() }
}

/**
 * One page in. `held` are the signatures of the lists we hold (winner and raced): their
 * pages are ignored. Any other list is collected, an older one too: a list that lost the
 * total order may still hold entries ours lacks (a raced list, revocations.ts), and only
 * its entries tell; once verified, one that holds nothing new is dropped.
 */
export function addPage(
  s: PagesState,
  page: RevocationsPage,
  held: readonly string[],
  nowMs: number,
): { state: PagesState; outcome: PageOutcome } {
  const { head } = page
  if (held.includes(head.signature)) return { state: s, outcome: { kind: 'ignored' } }
  const assemblies = new Map([...s.assemblies].filter(([, a]) => nowMs - a.lastMs <= ASSEMBLY_FORGET_MS))
  const key = `${head.version}/${head.signature}`
  const had = assemblies.get(key)
  const refuse = (message: string) => {
    assemblies.delete(key)
    return { state: { assemblies }, outcome: { kind: 'refused', message } as PageOutcome }
  }
  if (page.index >= page.pages) return refuse(`page ${page.index} of ${page.pages}`)
  if (
    had &&
    (had.pages !== page.pages || had.head.count !== head.count || had.head.clusterId !== head.clusterId)
  )
    return refuse('pages of one list disagree on its size')
  const got = new Map(had?.got ?? [])
  got.set(page.index, page.entries)
  if (got.size === page.pages) {
    assemblies.delete(key)
    const entries = [...got.keys()].sort((a, b) => a - b).flatMap((i) => got.get(i) ?? [])
    if (entries.length !== head.count)
      return refuse(`the pages hold ${entries.length} entries, the list ${head.count}`)
    const list = { clusterId: head.clusterId, version: head.version, entries, signature: head.signature }
    return { state: { assemblies }, outcome: { kind: 'complete', list } }
  }
  assemblies.set(key, { head, pages: page.pages, got, lastMs: nowMs })
  while (assemblies.size > ASSEMBLIES_MAX) assemblies.delete(oldest(assemblies))
  return { state: { assemblies }, outcome: { kind: 'kept' } }
}

function oldest(assemblies: ReadonlyMap<string, Assembly>): string {
  let key = ''
  let at = Number.POSITIVE_INFINITY
  for (const [k, a] of assemblies)
    if (a.lastMs < at) {
      at = a.lastMs
      key = k
    }
  return key
}
