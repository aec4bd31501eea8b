import { type Random, randomBelow } from '../../agent/core/random.js'
import type { SimNetwork } from './network.js'
import type { SwimNode } from './swim-node.js'

// Random fault schedules, drawn from a seed: what happens to which node, when. A schedule
// is data, so a failing one can be printed, and its seed replays it exactly.

export type Fault =
  | { atMs: number; kind: 'crash'; node: number }
  | { atMs: number; kind: 'restart'; node: number }
  | { atMs: number; kind: 'pause'; node: number; ms: number }
  | { atMs: number; kind: 'partition'; groups: number[][] }
  | { atMs: number; kind: 'heal' }
  | { atMs: number; kind: 'loss'; dropRate: number; duplicateRate: number }
  | { atMs: number; kind: 'clock-jump'; node: number; ms: number }
  /** A new node starts with join material and no certificate (trust simulator). */
  | { atMs: number; kind: 'join'; node: number }
  /** An admin on signer `by` revokes `node` (trust simulator). */
  | { atMs: number; kind: 'revoke'; node: number; by: number }

export interface ScheduleLimits {
  /** Faults happen in [0, faultsMs); afterwards the network heals and nothing more fails. */
  faultsMs: number
  faultsMax: number
  /** Never more than this many nodes down at once (a cluster that lost everyone proves nothing). */
  downMax: number
}

/** A schedule for `n` nodes (node 0 is never crashed: it is everyone's first contact). */
export function randomSchedule(random: Random, n: number, limits: ScheduleLimits): Fault[] {
  const faults: Fault[] = []
  const count = 1 + randomBelow(random, limits.faultsMax)
  const down = new Set<number>()
  const times = Array.from({ length: count }, () => Math.floor(random.next() * limits.faultsMs)).sort(
    (a, b) => a - b,
  )
  for (const atMs of times) {
    const node = 1 + randomBelow(random, n - 1)
    const roll = random.next()
    if (roll < 0.2) {
      if (down.has(node)) {
        down.delete(node)
        faults.push({ atMs, kind: 'restart', node })
      } else if (down.size < limits.downMax) {
        down.add(node)
        faults.push({ atMs, kind: 'crash', node })
      }
    } else if (roll < 0.35) faults.push({ atMs, kind: 'pause', node, ms: 500 + randomBelow(random, 7500) })
    else if (roll < 0.5) faults.push({ atMs, kind: 'partition', groups: split(random, n) })
    else if (roll < 0.6) faults.push({ atMs, kind: 'heal' })
    else if (roll < 0.75)
      faults.push({
        atMs,
        kind: 'loss',
        dropRate: random.next() * 0.3,
        duplicateRate: random.next() * 0.1,
      })
    else if (roll < 0.85) faults.push({ atMs, kind: 'clock-jump', node, ms: (random.next() - 0.5) * 120_000 })
    else if (down.has(node)) {
      down.delete(node)
      faults.push({ atMs, kind: 'restart', node })
    }
  }
  return faults
}

/** Two or three groups, every node in one. */
function split(random: Random, n: number): number[][] {
  const k = 2 + randomBelow(random, 2)
  const groups: number[][] = Array.from({ length: k }, () => [])
  for (let i = 0; i < n; i++) groups[randomBelow(random, k)]!.push(i)
  return groups.filter((g) => g.length > 0)
}

export function describeFault(f: Fault): string {
  const t = `${(f.atMs / 1000).toFixed(2)}s`
  switch (f.kind) {
    case 'crash':
    case 'restart':
      return `${t} ${f.kind} n${f.node}`
    case 'pause':
      return `${t} pause n${f.node} ${f.ms}ms`
    case 'partition':
      return `${t} partition ${f.groups.map((g) => g.join(',')).join(' | ')}`
    case 'heal':
      return `${t} heal`
    case 'loss':
      return `${t} loss drop=${f.dropRate.toFixed(2)} dup=${f.duplicateRate.toFixed(2)}`
    case 'clock-jump':
      return `${t} clock-jump n${f.node} ${Math.round(f.ms)}ms`
    case 'join':
      return `${t} join n${f.node}`
    case 'revoke':
      return `${t} revoke n${f.node} by n${f.by}`
  }
}

/**
 * Applies the faults every simulation handles alike (crash, restart, pause, clock jump,
 * partition, heal, loss) to `node` (the fault's node, if any) and `net`; `idOf(i)` is node
 * i's network id. False for a kind the caller applies itself ('join', 'revoke').
 */
export function applyCommonFault(
  f: Fault,
  node: SwimNode | undefined,
  net: SimNetwork,
  idOf: (i: number) => string,
): boolean {
  switch (f.kind) {
    case 'crash':
      if (node?.isUp()) node.crash()
      return true
    case 'restart':
      if (node && !node.isUp()) node.start()
      return true
    case 'pause':
      node?.proc.pause(f.ms)
      return true
    case 'clock-jump':
      node?.proc.jumpWallClock(f.ms)
      return true
    case 'partition':
      net.partition(f.groups.map((g) => g.map(idOf)))
      return true
    case 'heal':
      net.partition(null)
      return true
    case 'loss':
      net.opts.dropRate = f.dropRate
      net.opts.duplicateRate = f.duplicateRate
      return true
    default:
      return false
  }
}
