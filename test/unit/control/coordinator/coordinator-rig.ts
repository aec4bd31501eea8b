import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import type { ObservedNode } from '../../../../control/coordinator/observe.js'
import { Coordinator } from '../../../../control/coordinator/reconciler.js'
import { PlacementPolicy } from '../../../../control/placement/policy.js'
import { newIdentity } from '../../../support/records.js'
import { FakeEtcd, FakeLeadership, peerUrlOf } from './fake-etcd.js'

// A Coordinator on a manual clock, a FakeEtcd founded by the first node and a held
// leadership, recording what it assigns and retires: for the reconciler's and the
// metrics' unit tests.

export const GRACE = 30_000
/** The coordinator's own node: its id is derived from the key that signs the placement record. */
export const me = newIdentity()

/** The first node is the coordinator's own (give it `me.id`). */
export function coordinatorRig(
  nodes: ObservedNode[],
  opts: { clock?: ReturnType<typeof manualClock>; etcd?: FakeEtcd } = {},
) {
  const clock = opts.clock ?? manualClock()
  const counters = new Counters()
  const fresh = opts.etcd === undefined
  const etcd = opts.etcd ?? new FakeEtcd()
  const lead = new FakeLeadership()
  etcd.leases.set(lead.key.key, lead.key.lease)
  const assigned: { nodeId: string; memberId: bigint; initialCluster: string[] }[] = []
  const retired: string[] = []
  let reachable = true
  const coordinator = new Coordinator(
    {
      selfId: nodes[0]!.view.id,
      signer: me,
      policy: PlacementPolicy.parse({ failoverGraceMs: GRACE }),
      reconcileMs: 1000,
      peerUrlOf,
    },
    {
      etcd,
      leadership: lead,
      clock,
      log: silentLogger(),
      counters,
      nodes: () => nodes,
      assign: async (nodeId, memberId, ic) => {
        if (!reachable) return false
        assigned.push({ nodeId, memberId, initialCluster: ic.map((e) => `${e.name}=${e.peerUrl}`) })
        return true
      },
      retire: (nodeId) => retired.push(nodeId),
    },
  )
  const founder = nodes[0]!
  if (fresh) etcd.found(founder.view.id, founder.address!)
  /** The assigned node starts its member and catches up. */
  const boot = (id: bigint, name: string) => {
    etcd.start(id, name)
    etcd.caughtUp.add(id)
  }
  const voters = () =>
    etcd.members
      .filter((m) => !m.isLearner)
      .map((m) => m.name)
      .sort()
  const membershipCalls = () => etcd.calls.filter((c) => !c.startsWith('txn'))
  return {
    clock,
    counters,
    etcd,
    lead,
    coordinator,
    assigned,
    retired,
    boot,
    voters,
    membershipCalls,
    setReachable: (r: boolean) => {
      reachable = r
    },
  }
}
