import type { SwimConfig } from './config.js'
import type { News } from './news.js'
import { type Digest, digestOf, missingFor, selfDigest } from './sync.js'
import type { RecordMeta, SwimMessage, Update } from './types.js'

/** Wire size of a claim, for paging (records carry their own). */
const CLAIM_BYTES = 72

/**
 * The digest exchange and record pulls: each side says what it knows about every member,
 * the other answers with what it lacks. One exchange at a time per node (`resyncAfterMs`):
 * a newcomer whose links all open at once is sent the view once, not by every neighbour.
 */
export class AntiEntropy<R> {
  private lastSyncMono = Number.NEGATIVE_INFINITY
  /** Digest pages received so far, per peer, until its last page. */
  private readonly digestsIn = new Map<string, Map<string, Digest>>()
  /** Peers whose digest we answered since their link opened. */
  private readonly exchanged = new Set<string>()

  constructor(
    private readonly config: SwimConfig,
    private readonly news: News<R>,
    private readonly meta: (record: R) => RecordMeta,
    private readonly send: (to: string, msg: SwimMessage<R>) => void,
  ) {}

  maySync(nowMono: number): boolean {
    return nowMono - this.lastSyncMono >= this.config.resyncAfterMs
  }

  exchangedWith(id: string): boolean {
    return this.exchanged.has(id)
  }

  linkClosed(id: string): void {
    this.digestsIn.delete(id)
    this.exchanged.delete(id)
  }

  /** Our digest to `to`, in pages; the first carries our own record. */
  sendDigest(to: string, reply: boolean, nowMono: number): void {
    this.lastSyncMono = nowMono
    const entries: Digest[] = [selfDigest(this.news.selfMetaNow), ...this.news.table.all().map(digestOf)]
    const max = this.config.digestEntriesMax
    for (let i = 0; i < entries.length; i += max) {
      const last = i + max >= entries.length
      const gossip: Update<R>[] = i === 0 ? [{ kind: 'alive', record: this.news.selfRecord }] : []
      this.send(to, { t: 'digest', entries: entries.slice(i, i + max), reply, last, gossip })
    }
  }

  onDigest(
    from: string,
    msg: Extract<SwimMessage<R>, { t: 'digest' }>,
    linked: boolean,
    nowMono: number,
  ): void {
    let theirs = this.digestsIn.get(from)
    if (!theirs) {
      theirs = new Map()
      this.digestsIn.set(from, theirs)
    }
    for (const e of msg.entries) {
      if (theirs.size >= this.config.membersMax + 1) break
      theirs.set(e[0], e)
    }
    if (!msg.last) return
    this.digestsIn.delete(from)
    if (linked) this.exchanged.add(from)
    // Our digest asks for what we lack: not worth it if we synced with someone just now.
    if (msg.reply && this.maySync(nowMono)) this.sendDigest(from, false, nowMono)
    const self = { record: this.news.selfRecord, meta: this.news.selfMetaNow }
    this.sendPaged(from, missingFor(this.news.table, self, theirs))
  }

  /** The records a peer pulled (`want`). */
  sendRecords(to: string, ids: readonly string[]): void {
    this.sendPaged(
      to,
      this.news.recordsFor(ids).map((record) => ({ kind: 'alive', record })),
    )
  }

  private sendPaged(to: string, updates: Update<R>[]): void {
    let page: Update<R>[] = []
    let bytes = 0
    for (const u of updates) {
      const b = u.kind === 'member' || u.kind === 'alive' ? this.meta(u.record).bytes : CLAIM_BYTES
      if (page.length > 0 && bytes + b > this.config.syncBytesMax) {
        this.send(to, { t: 'gossip', gossip: page })
        page = []
        bytes = 0
      }
      page.push(u)
      bytes += b
    }
    if (page.length > 0) this.send(to, { t: 'gossip', gossip: page })
  }
}
