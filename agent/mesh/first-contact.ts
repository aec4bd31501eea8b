import type { Clock } from '../core/clock.js'
import { formatHostPort, type HostPort } from './bootstrap.js'
import type { PeerConn } from './swarm.js'

/** The transport as the membership shell uses it (SwarmTransport; a fake in unit tests). */
export interface ShellTransport {
  connections(): PeerConn[]
  dial(hp: Required<Pick<HostPort, 'key'>> & HostPort): void
  /** Close every connection to a peer (and do not redial it by itself). */
  close(keyHex: string): void
  /** Peers announcing our topic (for a node that knows no peer's key). */
  lookup(limit: number): Promise<HostPort[]>
}

/** Bootstrap peers held at once while no member is linked. */
const BOOTSTRAP_DIALS = 3
/** A bootstrap link that has not made us a member in this long is swapped (a join on a starved machine takes seconds). */
const BOOTSTRAP_TRY_MS = 30_000
/** Remembered peer addresses kept at most (configured, persisted and learned from records). */
export const LEARNED_MAX = 4096
/** Peers held by address at once (a joiner reaches for one signer at a time; pins are bounded too). */
const ADDRESSED_MAX = 16

/**
 * How a node that holds no member link finds one: the peers it remembers or was
 * configured with, else a lookup of the cluster's topic. It also keeps the list of peer
 * addresses learned on the way, which the shell persists for the next start.
 */
export class FirstContact {
  private readonly learned = new Map<string, HostPort>()
  private turn = 0
  /** Bootstrap peers dialled while no member was linked: key → since when. */
  private readonly tries = new Map<string, number>()
  private lookingUp = false
  /** Peers asked for by address, by node id (a joiner's signer): dialled there while no record says. */
  private readonly addressed = new Map<string, HostPort & { key: string }>()
  /** The list of learned peers changed since the shell last saved it. */
  dirty = false

  constructor(
    private readonly ownKeyHex: string,
    private readonly clock: Clock,
    private readonly transport: ShellTransport,
  ) {}

  /**
   * The transport has just come up: dials made before it could not have gone out, so
   * they are not attempts in flight (each would otherwise block a new dial for
   * BOOTSTRAP_TRY_MS / 4: every start and restart waited ~8 s for its first link).
   */
  transportUp(): void {
    this.tries.clear()
  }

  known(): HostPort[] {
    return [...this.learned.values()]
  }

  /** Where to dial node `id`, which is no member we know (the newest ADDRESSED_MAX kept). */
  hold(id: string, p: HostPort & { key: string }): void {
    this.addressed.delete(id)
    this.addressed.set(id, p)
    if (this.addressed.size > ADDRESSED_MAX) this.addressed.delete(this.addressed.keys().next().value!)
  }

  addressOf(id: string): (HostPort & { key: string }) | undefined {
    return this.addressed.get(id)
  }

  learn(p: HostPort): void {
    const addr = formatHostPort(p)
    const had = this.learned.get(addr)
    if (p.key || !had?.key) {
      if (had?.key !== p.key) this.dirty = true
      if (!had && this.learned.size >= LEARNED_MAX) return
      this.learned.set(addr, p)
    }
  }

  /**
   * No member linked: hold links to a few remembered or configured peers (else look the
   * topic up). Never more than BOOTSTRAP_DIALS at once, and each given BOOTSTRAP_TRY_MS to
   * bring us a member before it is dropped for the next: fifty joiners each dialling three
   * new peers every second would bury the founder in handshakes.
   */
  dial(): void {
    const keyed = this.known().filter((p) => p.key && p.key !== this.ownKeyHex)
    if (keyed.length === 0) {
      this.lookUp()
      return
    }
    const now = this.clock.monoMs()
    const linked = new Set(this.transport.connections().map((c) => c.remoteKeyHex))
    let holding = 0
    for (const [key, since] of this.tries) {
      if (!linked.has(key) && now - since > BOOTSTRAP_TRY_MS / 4) this.tries.delete(key)
      else if (now - since > BOOTSTRAP_TRY_MS) {
        this.tries.delete(key)
        this.transport.close(key)
      } else holding++
    }
    for (let i = 0; holding < BOOTSTRAP_DIALS && i < keyed.length; i++) {
      const p = keyed[this.turn++ % keyed.length]!
      if (this.tries.has(p.key!) || linked.has(p.key!)) continue
      this.tries.set(p.key!, now)
      this.transport.dial({ ...p, key: p.key! })
      holding++
    }
  }

  private lookUp(): void {
    if (this.lookingUp) return
    this.lookingUp = true
    void this.transport
      .lookup(BOOTSTRAP_DIALS)
      .then((found) => {
        for (const p of found.filter((f) => f.key !== this.ownKeyHex)) {
          this.learn(p)
          this.transport.dial({ ...p, key: p.key! })
        }
      })
      .finally(() => {
        this.lookingUp = false
      })
  }
}
