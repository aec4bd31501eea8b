import { SwimCluster } from './swim-cluster.js'

// Every node lagging now and then, as every agent does on a loaded 2-core test machine
// (etcd, apiservers, a dozen agents, qemu guests): each blocked for `hiccupMs` once every
// `everyMs`, at a random moment. Then one crashes. What Lifeguard's local health must not
// cost: a cluster whose every member lags a little still notices a death.

export interface LoadedCrashResult {
  /** Crash → dead in every other view (simulated ms), null if not within `maxMs`. */
  deadEverywhereMs: number | null
  /** Live members declared dead by someone meanwhile. */
  falseDeaths: number
}

/** `nodes` form, every one but the victim starts hiccuping, and after `settleMs` the victim crashes. */
export function runLoadedCrash(
  seed: number,
  hiccup: { ms: number; everyMs: number },
  opts: { nodes?: number; settleMs?: number; maxMs?: number } = {},
): LoadedCrashResult {
  const { nodes = 20, settleMs = 10_000, maxMs = 60_000 } = opts
  const c = new SwimCluster({ nodes, seed, startSpreadMs: 2000 })
  c.startAll()
  c.run(2000)
  if (c.runUntil(() => c.converged(), 30_000) === null)
    throw new Error(`seed ${seed}: the cluster did not form`)
  const victim = c.nodes[7]!
  const end = c.now + settleMs + maxMs
  for (const n of c.nodes) {
    if (n === victim) continue
    for (let t = c.now; t < end; t += hiccup.everyMs)
      c.sched.at(t + Math.floor(c.random.next() * (hiccup.everyMs - hiccup.ms)), () =>
        n.proc.pause(hiccup.ms),
      )
  }
  c.run(settleMs)
  c.resetDeaths()
  victim.crash()
  return {
    deadEverywhereMs: c.runUntil(() => c.deadEverywhere(victim.id), maxMs),
    falseDeaths: c.falseDeaths.filter((d) => d.subject !== victim.id).length,
  }
}
