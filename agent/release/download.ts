import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { Bitfield } from './bitfield.js'
import { type PeerView, pickRequests } from './decide.js'
import { type AskResult, ask, DOWNLOAD_BYTES } from './exchange.js'
import type { ReleaseP2p } from './p2p.js'
import type { ReleaseStore } from './store.js'

// Fetching one release: who provides it (kad-dht provider records, plus its origin, plus
// the peers others name: in their `have` answers, and the node an `elsewhere` answer
// says a piece went to), which pieces each holds (their bitfields, refreshed every
// 500 ms), then pickRequests (decide.ts) keeps up to inFlightMax requests going. Every piece goes
// through the store's hash check; a peer whose piece fails it is dropped for this
// release, disconnected and counted. A node announces itself as a provider after its
// first verified piece, so it seeds while it downloads.

export const inFlightMaxDefault = 6
export const perPeerMaxDefault = 2
const providersEveryMs = 3_000
const haveEveryMs = 500
const busyBackoffMs = 500
/** A piece refused with `elsewhere` is not asked of that peer again for this long. */
const elsewhereBackoffMs = 2_000
/** Peers one download talks to at most (the provider records and peer exchange can name more). */
const peersMax = 24
const failedBackoffMs = 3_000
const diskFullPauseMs = 10_000
export const BAD_PIECES = 'homecloud_release_bad_pieces_total'

export interface DownloadDeps {
  p2p: ReleaseP2p
  store: ReleaseStore
  clock: Clock
  log: Logger
  counters: Counters
  random: Random
  /** Connects to a member by key (its address from the mesh); false when it is not a live member. */
  connect: (key: string) => Promise<boolean>
  /** Peers to ask besides the provider records (the origin). */
  extraPeers: () => string[]
  selfKey: string
}

interface Peer extends PeerView {
  haveAtMs: number
  asking: boolean
  refusedUntilMs: Map<number, number>
}

export class Download {
  private readonly peers = new Map<string, Peer>()
  private readonly dropped = new Set<string>()
  private readonly inFlight = new Set<number>()
  private readonly pieceBackoff = new Map<number, number>()
  /** Store writes in flight (stop() waits for them). */
  private readonly writing = new Set<Promise<unknown>>()
  private providersAtMs = -Infinity
  private findingProviders = false
  private announced = false
  private pausedUntilMs = 0
  private stopped = false
  problem: string | null = null
  /** Its last write found the disk full: the service makes room (releases it need not keep go). */
  diskFull = false
  readonly fromPeer = new Map<string, number>()

  constructor(
    readonly id: string,
    private readonly d: DownloadDeps,
  ) {}

  get have(): Bitfield | undefined {
    return this.d.store.get(this.id)?.have
  }

  done(): boolean {
    return this.have?.complete() ?? false
  }

  droppedPeers(): string[] {
    return [...this.dropped]
  }

  /**
   * No new requests; a piece arriving after this is not stored. Resolves once no piece is
   * being written, so the caller may remove the release from the store.
   */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([...this.writing])
  }

  /** Called often by the service: refresh what is known, then fill the request pipeline. */
  tick(): void {
    if (this.stopped || this.done()) return
    const now = this.d.clock.monoMs()
    if (now - this.providersAtMs >= providersEveryMs && !this.findingProviders) void this.refreshProviders()
    for (const p of this.peers.values())
      if (!p.asking && now - p.haveAtMs >= haveEveryMs && p.backoffUntilMs <= now) void this.refreshHave(p)
    this.announce()
    this.pump()
  }

  private announce(): void {
    if (this.announced || (this.have?.count() ?? 0) === 0) return
    this.announced = true
    this.d.p2p.provide(this.id).catch((err) => {
      this.announced = false
      this.d.log.debug({ release: this.id, err: (err as Error).message }, 'provide failed; retried')
    })
  }

  private async refreshProviders(): Promise<void> {
    this.findingProviders = true
    this.providersAtMs = this.d.clock.monoMs()
    const abort = new AbortController()
    const timer = this.d.clock.setTimeout(() => abort.abort(), 2_000)
    const found = await this.d.p2p.findProviders(this.id, abort.signal).catch(() => [] as string[])
    timer.cancel()
    this.findingProviders = false
    for (const key of [...found, ...this.d.extraPeers()]) this.addPeer(key)
  }

  /** A peer to ask from now on (its bitfield at the next tick); known, dropped, or one too many: ignored. */
  private addPeer(key: string): Peer | undefined {
    const s = this.d.store.get(this.id)
    if (!s || key === this.d.selfKey || this.dropped.has(key)) return undefined
    const known = this.peers.get(key)
    if (known || this.peers.size >= peersMax) return known
    const p: Peer = {
      key,
      have: new Bitfield(s.pieces.length),
      inFlight: 0,
      backoffUntilMs: 0,
      haveAtMs: -Infinity,
      asking: false,
      refusedUntilMs: new Map(),
    }
    this.peers.set(key, p)
    return p
  }

  private async refreshHave(p: Peer): Promise<void> {
    const s = this.d.store.get(this.id)
    if (!s) return
    p.asking = true
    p.haveAtMs = this.d.clock.monoMs()
    const ok = await this.d.connect(p.key).catch(() => false)
    const r: AskResult = ok
      ? await ask(
          this.d.p2p,
          p.key,
          { t: 'have', id: this.id },
          { clock: this.d.clock, pieces: s.pieces.length },
        )
      : { kind: 'failed', error: 'not a live member' }
    p.asking = false
    if (r.kind === 'have') {
      p.have = r.have
      for (const k of r.peers) this.addPeer(k)
    } else if (r.kind === 'bad') this.drop(p.key, r.error)
    else p.backoffUntilMs = this.d.clock.monoMs() + failedBackoffMs
    this.pump()
  }

  private pump(): void {
    const s = this.d.store.get(this.id)
    const now = this.d.clock.monoMs()
    if (!s || this.stopped || now < this.pausedUntilMs) return
    const asks = pickRequests({
      missing: s.have.missing(),
      inFlight: this.inFlight,
      peers: [...this.peers.values()],
      pieceBackoff: this.pieceBackoff,
      nowMs: now,
      inFlightMax: inFlightMaxDefault,
      perPeerMax: perPeerMaxDefault,
      random: () => this.d.random.next(),
    })
    for (const a of asks) void this.fetch(a.piece, a.peer)
  }

  private async fetch(piece: number, key: string): Promise<void> {
    const s = this.d.store.get(this.id)
    const peer = this.peers.get(key)
    if (!s || !peer) return
    this.inFlight.add(piece)
    peer.inFlight++
    const size = s.pieces[piece]!.bytes
    const r = await ask(
      this.d.p2p,
      key,
      { t: 'piece', id: this.id, i: piece },
      { clock: this.d.clock, pieces: s.pieces.length, pieceSize: size },
    )
    peer.inFlight--
    const now = this.d.clock.monoMs()
    try {
      if (this.stopped) return
      if (r.kind === 'piece') {
        const write = this.d.store.writePiece(this.id, piece, r.data)
        this.writing.add(write)
        await write.finally(() => this.writing.delete(write))
        this.d.counters.inc(DOWNLOAD_BYTES, {}, r.data.length)
        this.fromPeer.set(key, (this.fromPeer.get(key) ?? 0) + r.data.length)
        this.problem = null
        this.diskFull = false
      } else if (r.kind === 'bad') this.drop(key, r.error)
      else if (r.kind === 'refused' && r.why === 'elsewhere') this.elsewhere(peer, piece, r.to, now)
      else if (r.kind === 'refused' && r.why === 'busy') peer.backoffUntilMs = now + busyBackoffMs
      else if (r.kind === 'refused') peer.have.clear(piece)
      else peer.backoffUntilMs = now + failedBackoffMs
    } catch (err) {
      if (err instanceof HomecloudError && err.code === 'RELEASE_PIECE_INVALID') this.drop(key, err.message)
      else if (err instanceof HomecloudError && err.code === 'RELEASE_DISK_FULL') {
        this.problem = `${err.message}; retrying in ${diskFullPauseMs / 1000} s`
        this.diskFull = true
        this.pausedUntilMs = now + diskFullPauseMs
        this.d.log.error({ release: this.id, err: err.message }, 'release download paused: disk full')
      } else this.d.log.warn({ release: this.id, err: (err as Error).message }, 'storing a piece failed')
    } finally {
      this.inFlight.delete(piece)
    }
    if (this.done()) this.d.log.info({ release: this.id }, 'release complete and verified')
    this.announce()
    this.pump()
  }

  /**
   * The peer sent this piece to another node moments ago: do not ask it again for a
   * while, and ask the node it names (at once, if it was unknown). A peer that names
   * nobody (older version) makes the piece wait for everyone.
   */
  private elsewhere(peer: Peer, piece: number, to: string | undefined, now: number): void {
    if (!to) {
      this.pieceBackoff.set(piece, now + elsewhereBackoffMs)
      return
    }
    peer.refusedUntilMs.set(piece, now + elsewhereBackoffMs)
    const holder = this.addPeer(to)
    if (holder && !holder.asking && holder.backoffUntilMs <= now) void this.refreshHave(holder)
  }

  private drop(key: string, why: string): void {
    if (this.dropped.has(key)) return
    this.dropped.add(key)
    this.peers.delete(key)
    this.d.counters.inc(BAD_PIECES)
    this.d.log.warn({ release: this.id, peer: key.slice(0, 16), why }, 'peer sent a bad piece: dropped')
    void this.d.p2p.hangUp(key)
  }
}
