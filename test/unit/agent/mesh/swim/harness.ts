import { seededRandom } from '../../../../../agent/core/random.js'
import { DEFAULT_SWIM_CONFIG, type SwimConfig } from '../../../../../agent/mesh/swim/config.js'
import { Swim } from '../../../../../agent/mesh/swim/swim.js'
import type { MemberEvent, SwimEffect, SwimMessage } from '../../../../../agent/mesh/swim/types.js'

// A few SWIM machines wired by hand: effects are routed synchronously (after the call
// that made them) until nothing is left to send, and time moves only when a test says.

export interface Rec {
  id: string
  incarnation: number
  version: number
  bytes: number
}

export interface Node {
  id: string
  swim: Swim<Rec>
  events: MemberEvent[]
  refutes: number[]
}

export class Wires {
  readonly nodes = new Map<string, Node>()
  now = 0
  /** Messages to or from these ids are lost. */
  readonly silenced = new Set<string>()
  readonly sent: { from: string; to: string; msg: SwimMessage<Rec> }[] = []

  constructor(readonly config: SwimConfig = DEFAULT_SWIM_CONFIG) {}

  add(id: string, incarnation = 1, seed = 1): Node {
    let version = 0
    const rec = (inc: number): Rec => ({ id, incarnation: inc, version: ++version, bytes: 600 })
    const node: Node = { id, swim: null as unknown as Swim<Rec>, events: [], refutes: [] }
    node.swim = new Swim<Rec>(
      { selfId: id, config: this.config, self: rec(incarnation) },
      { random: seededRandom(seed + this.nodes.size), meta: (r) => r, resign: (inc) => rec(inc) },
    )
    this.nodes.set(id, node)
    return node
  }

  /** Link every node to every other (a full mesh). */
  linkAll(): void {
    for (const n of this.nodes.values())
      this.route(
        n.id,
        n.swim.setLinks(
          [...this.nodes.keys()].filter((k) => k !== n.id),
          this.now,
        ),
      )
  }

  /** Tick every node at `now`, routing what they send. */
  tickAll(): void {
    for (const n of this.nodes.values()) this.route(n.id, n.swim.tick(this.now))
  }

  /** Advance time in steps, ticking everyone at each step. */
  run(ms: number, stepMs = 10): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now = Math.min(end, this.now + stepMs)
      this.tickAll()
    }
  }

  route(from: string, effects: SwimEffect<Rec>[]): void {
    const queue: { from: string; e: SwimEffect<Rec> }[] = effects.map((e) => ({ from, e }))
    while (queue.length > 0) {
      const { from: f, e } = queue.shift()!
      const node = this.nodes.get(f)!
      if (e.kind === 'event') node.events.push(e.event)
      else if (e.kind === 'refute') node.refutes.push(e.incarnation)
      else {
        this.sent.push({ from: f, to: e.to, msg: e.msg })
        const to = this.nodes.get(e.to)
        if (!to || this.silenced.has(f) || this.silenced.has(e.to)) continue
        for (const out of to.swim.receive(f, e.msg, this.now)) queue.push({ from: e.to, e: out })
      }
    }
  }

  stateOf(observer: string, subject: string): string | undefined {
    return this.nodes.get(observer)!.swim.table.get(subject)?.state
  }
}
