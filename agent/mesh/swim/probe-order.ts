import { type Random, randomBelow } from '../../core/random.js'

/**
 * SWIM's randomised round-robin: probe targets in a shuffled order, each once per round,
 * so every member is probed within a bounded time (plain random choice can starve one).
 * Newcomers are inserted at a random place in the rest of the round.
 */
export class ProbeOrder {
  private order: string[] = []
  private index = 0
  private readonly known = new Set<string>()

  constructor(private readonly random: Random) {}

  /** The next target among `candidates`, or null if there are none. */
  next(candidates: ReadonlySet<string>): string | null {
    if (candidates.size === 0) return null
    for (const id of candidates) if (!this.known.has(id)) this.insert(id)
    for (let tries = 0; tries < 2; tries++) {
      while (this.index < this.order.length) {
        const id = this.order[this.index++]!
        if (candidates.has(id)) return id
        this.known.delete(id)
      }
      this.reshuffle(candidates)
    }
    return null
  }

  private insert(id: string): void {
    const at = this.index + randomBelow(this.random, this.order.length - this.index + 1)
    this.order.splice(at, 0, id)
    this.known.add(id)
  }

  private reshuffle(candidates: ReadonlySet<string>): void {
    const ids = [...candidates]
    for (let i = ids.length - 1; i > 0; i--) {
      const j = randomBelow(this.random, i + 1)
      ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
    }
    this.order = ids
    this.index = 0
    this.known.clear()
    for (const id of ids) this.known.add(id)
  }
}
