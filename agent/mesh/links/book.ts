import { backoffDelayMs } from '../../core/backoff.js'
import type { LinkLimits } from './choose.js'

export interface LinkTimings {
  /** A link neither side wants is closed only after this long unwanted (views settle first). */
  lingerMs: number
  /** A link this young is never shed for room: it gets to finish its first exchange. */
  settleMs: number
  /** A peer we want but could not link to for this long is probed through others. */
  unreachableAfterMs: number
  /** A connection from a node that is not a member yet (a joiner) is kept this long. */
  strangerGraceMs: number
  /**
   * …and never shed for room before this: long enough to ask its question (a joiner
   * waits up to 8 s for the peer it asked before, trust's JOIN_ASK_TIMEOUT_MS).
   */
  strangerSettleMs: number
  /** A peer that said it is full is left out of the random picks this long. */
  fullAvoidMs: number
  /** Dial retries back off from this… */
  dialBackoffMs: number
  /** …up to this. */
  dialBackoffMaxMs: number
}

export const DEFAULT_LINK_TIMINGS: LinkTimings = {
  lingerMs: 15_000,
  settleMs: 1_000,
  unreachableAfterMs: 3_000,
  strangerGraceMs: 60_000,
  strangerSettleMs: 10_000,
  fullAvoidMs: 60_000,
  dialBackoffMs: 1_000,
  dialBackoffMaxMs: 30_000,
}

interface Link {
  openedMono: number
  peerWants: boolean
  toldWant: boolean | null
  unwantedSinceMono: number | null
}

export interface LinkPlan {
  dial: string[]
  /** `full`: tell the peer we refuse it for lack of room before closing. */
  close: { id: string; full: boolean }[]
  /** Tell these peers whether we want the link (sent when it changes). */
  tell: { id: string; want: boolean }[]
  /** Wanted for a while and still not linked: to be probed through others. */
  unreachable: string[]
}

/**
 * The bookkeeping and rules of holding links, no I/O: a link stays while either side
 * wants it (each says so with a small `link` message), a link neither wants is closed
 * after `lingerMs`, and past `connectionsMax` the links only the other side wants are
 * refused, newest first, with "full" so that side picks someone else.
 */
export class LinkBook {
  private readonly links = new Map<string, Link>()
  private readonly fullUntil = new Map<string, number>()
  private readonly dials = new Map<string, { nextMono: number; attempts: number }>()
  private unlinkedSince = new Map<string, number>()

  constructor(
    private readonly limits: LinkLimits,
    private readonly timings: LinkTimings,
  ) {}

  connected(): string[] {
    return [...this.links.keys()]
  }

  has(id: string): boolean {
    return this.links.has(id)
  }

  opened(id: string, nowMono: number): void {
    if (!this.links.has(id))
      this.links.set(id, { openedMono: nowMono, peerWants: false, toldWant: null, unwantedSinceMono: null })
    this.dials.delete(id)
  }

  closed(id: string): void {
    this.links.delete(id)
  }

  /** The peer's `link` message. */
  peerSaid(id: string, want: boolean, full: boolean, nowMono: number): void {
    const l = this.links.get(id)
    if (l) l.peerWants = want
    if (full) this.fullUntil.set(id, nowMono + this.timings.fullAvoidMs)
  }

  /** Peers to leave out of random picks now. */
  avoid(nowMono: number): Set<string> {
    for (const [id, until] of this.fullUntil) if (until <= nowMono) this.fullUntil.delete(id)
    return new Set(this.fullUntil.keys())
  }

  /**
   * `exchanged`: the peer and we have swapped digests over this link, so it has done the
   * job a newcomer opened it for and may be shed before `settleMs`.
   */
  plan(
    wanted: readonly string[],
    isMember: (id: string) => boolean,
    nowMono: number,
    exchanged: (id: string) => boolean = () => false,
  ): LinkPlan {
    const want = new Set(wanted)
    const out: LinkPlan = { dial: [], close: [], tell: [], unreachable: [] }
    const ours: string[] = []
    const theirs: string[] = []
    const lingering: string[] = []
    const strangers: string[] = []
    for (const [id, l] of this.links) {
      const mine = want.has(id)
      if (l.toldWant !== mine) {
        l.toldWant = mine
        out.tell.push({ id, want: mine })
      }
      // A non-member we asked for (pinned: a joiner's signer) is ours, not a stranger.
      if (!mine && !isMember(id) && nowMono - l.openedMono < this.timings.strangerGraceMs) strangers.push(id)
      else if (mine || l.peerWants) {
        l.unwantedSinceMono = null
        ;(mine ? ours : theirs).push(id)
      } else {
        l.unwantedSinceMono ??= nowMono
        if (nowMono - l.unwantedSinceMono >= this.timings.lingerMs) out.close.push({ id, full: false })
        else lingering.push(id)
      }
    }
    // Over the limit, shed what matters least: links nobody wants any more (the longest
    // unwanted first), then links only the other side wants (the newest first, saying
    // "full" so it picks someone else).
    let over = ours.length + theirs.length + lingering.length - this.limits.connectionsMax
    const settled = (id: string) =>
      exchanged(id) || nowMono - this.links.get(id)!.openedMono >= this.timings.settleMs
    const shed = lingering
      .filter(settled)
      .sort((a, b) => this.links.get(a)!.unwantedSinceMono! - this.links.get(b)!.unwantedSinceMono!)
      .slice(0, Math.max(0, over))
    for (const id of shed) out.close.push({ id, full: false })
    over -= shed.length
    out.close.push(...this.newest(theirs.filter(settled), over))
    // A stranger (a joiner) sends no digest, so only time settles it; shed at 1 s, the
    // newest joiner at a signer went before it could ask (the 50-agent lab).
    const settledStrangers = strangers.filter(
      (id) => nowMono - this.links.get(id)!.openedMono >= this.timings.strangerSettleMs,
    )
    out.close.push(...this.newest(settledStrangers, strangers.length - this.limits.strangersMax))
    const unlinked = new Map<string, number>()
    for (const id of wanted) {
      if (this.links.has(id)) continue
      const since = this.unlinkedSince.get(id) ?? nowMono
      unlinked.set(id, since)
      if (nowMono - since >= this.timings.unreachableAfterMs) out.unreachable.push(id)
      if (this.mayDial(id, nowMono)) out.dial.push(id)
    }
    this.unlinkedSince = unlinked
    return out
  }

  private newest(ids: string[], count: number): { id: string; full: boolean }[] {
    if (count <= 0) return []
    const newest = ids.sort((a, b) => this.links.get(b)!.openedMono - this.links.get(a)!.openedMono)
    return newest.slice(0, count).map((id) => ({ id, full: true }))
  }

  private mayDial(id: string, nowMono: number): boolean {
    const d = this.dials.get(id)
    if (d && nowMono < d.nextMono) return false
    const attempts = (d?.attempts ?? 0) + 1
    const backoff = backoffDelayMs(
      attempts,
      {
        initialDelayMs: this.timings.dialBackoffMs,
        factor: 2,
        delayMsMax: this.timings.dialBackoffMaxMs,
        jitter: 0,
      },
      0,
    )
    this.dials.set(id, { nextMono: nowMono + backoff, attempts })
    if (this.dials.size > 4 * this.limits.connectionsMax + 64) this.pruneDials(nowMono)
    return true
  }

  private pruneDials(nowMono: number): void {
    for (const [id, d] of this.dials) if (d.nextMono <= nowMono) this.dials.delete(id)
  }
}
