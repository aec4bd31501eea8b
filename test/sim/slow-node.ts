import type { LivenessMessage } from '../../agent/mesh/liveness.js'
import { SwimCluster } from './swim-cluster.js'
import type { SimRecord } from './swim-node.js'

// One node that cannot keep up, in an otherwise healthy simulated cluster: what the
// Lifeguard local health (agent/mesh/swim/awareness.ts) is for. The busy etcd voters of the
// 50-agent lab were such nodes: alive, answering late, accusing others.

/** How the node is slowed. */
export type Slowness =
  /** Every timer and message it handles costs this much: its loop falls behind under its own traffic. */
  | { kind: 'overload'; costMs: number }
  /** Blocked for `ms` once every `everyMs`, at a random moment (a long synchronous job). */
  | { kind: 'hiccups'; ms: number; everyMs: number }

export interface SlowNodeResult {
  /** Suspicions and deaths the slow node raised itself about others ("kind id"). */
  accusations: string[]
  /** Nodes that declared the slow node dead. */
  declaredDeadBy: number
  /** The slow node's highest health score while slow. */
  healthMax: number
}

/** `nodes` form, then node 5 is slow for `forMs` while the others watch. */
export function runSlowNode(seed: number, slow: Slowness, forMs = 20_000, nodes = 20): SlowNodeResult {
  const c = new SwimCluster({ nodes, seed, startSpreadMs: 2000 })
  c.startAll()
  c.run(2000)
  if (c.runUntil(() => c.converged(), 30_000) === null)
    throw new Error(`seed ${seed}: the cluster did not form`)
  const node = c.nodes[5]!
  const accusations = new Set<string>()
  // Claims are gossiped many times; each distinct one the node raised counts once.
  const send = c.net.send.bind(c.net)
  c.net.send = (from, to, msg, bytes) => {
    const m = msg as LivenessMessage<SimRecord>
    if (from === node.id && 'gossip' in m)
      for (const u of m.gossip)
        if ((u.kind === 'suspect' || u.kind === 'dead') && u.from === node.id && u.id !== node.id)
          accusations.add(`${u.kind} ${u.id}@${u.incarnation}`)
    return send(from, to, msg, bytes)
  }
  c.resetDeaths()
  const end = c.now + forMs
  if (slow.kind === 'overload') node.proc.overload(end, slow.costMs)
  else
    for (let t = c.now; t < end; t += slow.everyMs)
      c.sched.at(t + Math.floor(c.random.next() * (slow.everyMs - slow.ms)), () => node.proc.pause(slow.ms))
  let healthMax = 0
  while (c.now < end) {
    c.run(100)
    healthMax = Math.max(healthMax, node.liveness?.swim.health ?? 0)
  }
  return { accusations: [...accusations], declaredDeadBy: c.deadSeen.get(node.id)?.size ?? 0, healthMax }
}
