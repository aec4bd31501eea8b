// Randomness is injected like time, so jitter, peer choice and schedules can be replayed:
// the agent uses the system source, tests and the simulator a seeded one. This file and
// core/clock.ts are the only places that may touch the global sources.

export interface Random {
  /** A number in [0, 1). */
  next(): number
}

/** The real source (Math.random: fast, not for secrets — keys and tokens use node:crypto). */
export function systemRandom(): Random {
  return { next: () => Math.random() }
}

/**
 * A deterministic source (mulberry32): the same seed gives the same sequence on every
 * machine, so a failing test or simulation prints its seed and can be replayed.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
    },
  }
}

/** An integer in [0, n) from `random`. */
export function randomBelow(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random.next() * n))
}
