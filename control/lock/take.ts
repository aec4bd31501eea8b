import { HomecloudError } from '../../agent/core/errors.js'
import type { MemberList } from '../../agent/etcd/model/members.js'
import type { EndpointHealth } from '../../agent/etcd/model/types.js'
import { PLACEMENT_KEY, parsePlacementRecord } from '../coordinator/placement-record.js'
import type { KubeApi } from '../kubeapi/types.js'
import { NODE_ID_LABEL } from '../nodes/reconcile.js'
import { ROLLOUT_KEY } from '../rollout/record.js'
import {
  type AcquireRequest,
  acquireLock,
  type HeldLock,
  type LockComponents,
  type LockEtcd,
} from './cluster-lock.js'
import { type LockPreconditions, mayTakeLock } from './decide.js'
import { type ReadHold, rolloutHoldOf } from './hold.js'

// Observe what `mayTakeLock` decides on (Node readiness from Kubernetes, voter health
// and the placement target from etcd, the rollout's node in progress), decide, then take
// the lock — fenced on the rollout record's revision, so a rollout that began with a node
// between the look and the take (its own lock lapsed since) still refuses it.

export interface PreconditionEtcd extends LockEtcd {
  memberList(): Promise<MemberList>
  health(endpoint: string, timeoutMs?: number): Promise<EndpointHealth>
}

/** The rollout's hold (hold.ts) and the record's revision it was read at (0: no record). */
export async function readRolloutHold(
  etcd: Pick<LockEtcd, 'get'>,
): Promise<{ rollout: ReadHold; rolloutRevision: number }> {
  const kv = await etcd.get(ROLLOUT_KEY)
  return { rollout: rolloutHoldOf(kv?.value), rolloutRevision: kv?.modRevision ?? 0 }
}

/** Why a node (by its node id) is no longer a member — revoked — or null while it is one. */
export type WhyGone = (nodeId: string) => string | null

export async function observePreconditions(
  node: string,
  etcd: PreconditionEtcd,
  kube: Pick<KubeApi, 'listNodes'>,
  whyGone?: WhyGone,
): Promise<Omit<LockPreconditions, 'force'> & { rolloutRevision: number }> {
  const nodes = (await kube.listNodes()).map((n) => {
    const name = n.metadata?.name ?? ''
    // Revocations live in the mesh, Nodes in Kubernetes: joined by the Node's node-id label.
    const left = whyGone?.(n.metadata?.labels?.[NODE_ID_LABEL] ?? name) ?? null
    return {
      name,
      ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      ...(left ? { left } : {}),
    }
  })
  const voters = (await etcd.memberList()).members.filter((m) => !m.isLearner)
  const health = await Promise.all(
    voters.map(async (m) => {
      const url = m.clientUrls[0]
      return url ? (await etcd.health(url, 2000)).healthy : false
    }),
  )
  const placement = await etcd.get(PLACEMENT_KEY)
  const parsed = placement ? parsePlacementRecord(placement.value) : undefined
  const target = parsed?.ok ? parsed.record.target.length : voters.length
  const healthy = health.filter(Boolean).length
  return { node, nodes, voters: { healthy, total: voters.length, target }, ...(await readRolloutHold(etcd)) }
}

/** Checks the preconditions (unless forced), then takes the lock. */
export async function takeClusterLock(
  req: AcquireRequest,
  c: LockComponents & { etcd: PreconditionEtcd; kube: Pick<KubeApi, 'listNodes'>; whyGone?: WhyGone },
  opts: { force: boolean; ttlSeconds?: number; warn?: (line: string) => void },
): Promise<HeldLock> {
  const seen = await observePreconditions(req.node, c.etcd, c.kube, c.whyGone)
  const d = mayTakeLock({ ...seen, force: opts.force })
  if (!d.ok)
    throw new HomecloudError(
      'LOCK_REFUSED',
      `not now: ${d.reasons.join('; ')} (nothing changed)`,
      'wait until the cluster is healthy again, or pass --force if you know why',
    )
  for (const r of d.overridden) opts.warn?.(`warning: going ahead despite: ${r} (--force)`)
  return acquireLock(req, c, {
    ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}),
    // Forced past the rollout's hold, the record may move on meanwhile; else it must not.
    ...(opts.force ? {} : { unchanged: { key: ROLLOUT_KEY, modRevision: seen.rolloutRevision } }),
  })
}
