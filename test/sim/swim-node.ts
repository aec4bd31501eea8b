import { seededRandom } from '../../agent/core/random.js'
import { DEFAULT_LINK_TIMINGS } from '../../agent/mesh/links/book.js'
import { DEFAULT_LINK_LIMITS } from '../../agent/mesh/links/choose.js'
import { Liveness, type LivenessMessage, type LivenessSettings } from '../../agent/mesh/liveness.js'
import type { NodeRecordBody } from '../../agent/mesh/record.js'
import { DEFAULT_SWIM_CONFIG } from '../../agent/mesh/swim/config.js'
import type { MemberEvent, RecordMeta } from '../../agent/mesh/swim/types.js'
import type { Endpoint, SimNetwork } from './network.js'
import { SimProcess } from './process.js'
import type { Scheduler } from './scheduler.js'

/** A node record in the simulator: what SWIM reads, and a size like a real signed record's. */
export interface SimRecord {
  id: string
  incarnation: number
  version: number
  bytes: number
  /** What the whole-cluster simulator's control plane reads (facts, address, roles). */
  body?: NodeRecordBody
}

/** Messages for the rest of a simulated agent (its control plane) travel on the same links. */
export interface ControlMessage {
  t: `ctl-${string}`
}

/** The parts of a simulated agent beyond membership (test/sim/control-part.ts). */
export interface NodeExtension {
  /** The record body this node announces. */
  body?(): NodeRecordBody
  /** The process (re)started; membership runs. */
  started?(node: SwimNode): void
  crashed?(): void
  receive?(from: string, msg: ControlMessage): void
  /** A link to `peer` opened (after membership heard of it). */
  linkOpened?(peer: string): void
  /**
   * The certificate gate, as the agent's mesh shell applies it before SWIM sees a
   * message: returns the message with the records this node may not admit taken out.
   */
  admit?(from: string, msg: LivenessMessage<SimRecord>): LivenessMessage<SimRecord>
  /** The mesh shell's rule for what this node may send now (false: dropped unsent). */
  tells?(msg: LivenessMessage<SimRecord>): boolean
}

/** A real signed node record (facts, addresses, signature) is about this big on the wire. */
export const SIM_RECORD_BYTES = 620

export interface SwimNodeEnv extends LivenessSettings {
  sched: Scheduler
  net: SimNetwork
  seed: number
  wallStartMs: number
  /** Peers a starting node dials while it knows no member (the join material's list). */
  bootstrap(self: string): string[]
  onEvent(observer: string, event: MemberEvent, atMs: number): void
}

/**
 * The agent's membership settings (the mesh's defaults) for nodes on `net`; a starting
 * node dials the `boot` nodes other than itself while it knows no member.
 */
export function defaultSwimEnv(
  sched: Scheduler,
  net: SimNetwork,
  seed: number,
  boot: readonly string[],
  onEvent: SwimNodeEnv['onEvent'] = () => {},
): SwimNodeEnv {
  return {
    sched,
    net,
    seed,
    swim: DEFAULT_SWIM_CONFIG,
    links: DEFAULT_LINK_LIMITS,
    linkTimings: DEFAULT_LINK_TIMINGS,
    replanMs: 1000,
    reconnectDeadMs: 10_000,
    reconnectForMs: 3_600_000,
    wallStartMs: 1_700_000_000_000,
    bootstrap: (self) => boot.filter((b) => b !== self),
    onEvent,
  }
}

/** Estimated wire size of a message (JSON would cost more to compute than the rest of the step). */
export function messageBytes(msg: LivenessMessage<SimRecord>): number {
  let n = 48
  if ('gossip' in msg)
    for (const u of msg.gossip)
      n += u.kind === 'alive' || u.kind === 'member' ? u.record.bytes : u.kind === 'have' ? 56 : 72
  if (msg.t === 'want') n += msg.ids.length * 23
  if (msg.t === 'ack') n += msg.links.length * 23
  if (msg.t === 'digest') n += msg.entries.length * 50
  return n
}

/**
 * One simulated agent's membership: the production Liveness (SWIM + link book) over
 * the in-memory network, in a process that can crash, restart, pause and see its wall
 * clock jump. Its incarnation survives restarts, as the agent's peers-store keeps it.
 */
export class SwimNode implements Endpoint {
  readonly proc: SimProcess
  liveness: Liveness<SimRecord> | null = null
  private incarnation = 0
  private version = 0
  private starts = 0
  private bootTurn = 0
  private readonly conns = new Map<string, number>()
  private makeRecord: (() => SimRecord) | null = null

  constructor(
    readonly id: string,
    private readonly env: SwimNodeEnv,
    private readonly ext: NodeExtension = {},
    readonly address = '',
  ) {
    this.proc = new SimProcess(env.sched, env.wallStartMs)
    env.net.add(this)
  }

  isUp(): boolean {
    return this.proc.isUp
  }

  accepts(): boolean {
    // hyperswarm's own cap sits above ours: the link book refuses the excess politely.
    return this.conns.size < 2 * this.env.links.connectionsMax
  }

  links(): string[] {
    return [...this.conns.keys()]
  }

  start(): void {
    this.proc.start()
    this.starts++
    this.incarnation++
    const clock = this.proc.clock()
    const record = (incarnation: number): SimRecord => ({
      id: this.id,
      incarnation,
      version: ++this.version,
      bytes: SIM_RECORD_BYTES,
      ...(this.ext.body ? { body: this.ext.body() } : {}),
    })
    this.makeRecord = () => record(this.incarnation)
    const live = new Liveness<SimRecord>(
      {
        selfId: this.id,
        self: record(this.incarnation),
        swim: this.env.swim,
        links: this.env.links,
        linkTimings: this.env.linkTimings,
        replanMs: this.env.replanMs,
        reconnectDeadMs: this.env.reconnectDeadMs,
        reconnectForMs: this.env.reconnectForMs,
      },
      {
        clock,
        random: seededRandom((this.env.seed ^ hashId(this.id)) + this.starts * 7919),
        transport: {
          send: (id, msg) => {
            if (this.ext.tells && !this.ext.tells(msg)) return true
            return this.conns.has(id) && this.env.net.send(this.id, id, msg, messageBytes(msg))
          },
          dial: (id) => this.env.net.dial(this.id, id),
          close: (id) => this.env.net.close(this.id, id),
          // One peer per attempt, as the agent does: every newcomer dialling every
          // bootstrap peer at once would fill their connection slots for nothing.
          dialBootstrap: () => {
            const peers = this.env.bootstrap(this.id)
            const id = peers[this.bootTurn++ % Math.max(1, peers.length)]
            if (id) this.env.net.dial(this.id, id)
          },
        },
        meta: (r): RecordMeta => r,
        resign: (incarnation) => {
          this.incarnation = incarnation
          return record(incarnation)
        },
        onEvent: (e) => this.env.onEvent(this.id, e, clock.monoMs()),
        onRefute: () => {},
      },
    )
    this.liveness = live
    this.proc.run(() => {
      live.start()
      this.ext.started?.(this)
    }, 'timer')
  }

  /** Announce our record again (its body changed: roles). */
  announce(): void {
    if (this.liveness && this.makeRecord) this.liveness.announce(this.makeRecord())
  }

  /** Send a control message to a linked peer; false when there is no link to it now. */
  sendControl(to: string, msg: ControlMessage): boolean {
    if (!this.conns.has(to)) return false
    return this.env.net.send(this.id, to, msg, 256)
  }

  crash(): void {
    this.ext.crashed?.()
    this.liveness?.stop()
    this.liveness = null
    this.proc.crash()
    this.conns.clear()
    this.env.net.crashed(this.id)
  }

  opened(peer: string, conn: number): void {
    this.proc.run(() => {
      if (!this.env.net.holds(this.id, peer, conn)) return
      this.conns.set(peer, conn)
      this.liveness?.connectionOpened(peer)
      this.ext.linkOpened?.(peer)
    }, 'io')
  }

  closed(peer: string, conn: number): void {
    this.proc.run(() => {
      if (this.conns.get(peer) !== conn) return
      this.conns.delete(peer)
      this.liveness?.connectionClosed(peer)
    }, 'io')
  }

  deliver(from: string, msg: unknown): void {
    const t = (msg as { t: string }).t
    if (t.startsWith('ctl-')) this.proc.run(() => this.ext.receive?.(from, msg as ControlMessage), 'io')
    else
      this.proc.run(() => {
        const m = msg as LivenessMessage<SimRecord>
        this.liveness?.receive(from, this.ext.admit ? this.ext.admit(from, m) : m)
      }, 'io')
  }
}

function hashId(id: string): number {
  let h = 0
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0
  return h >>> 0
}
