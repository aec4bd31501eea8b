import { Coordinator, type CoordinatorComponents } from '../../control/coordinator/reconciler.js'
import { PlacementPolicy } from '../../control/placement/policy.js'
import type { Logger } from '../core/log.js'
import { clientUrlOf, peerUrlOf } from '../etcd/spec.js'
import type { ControlPlaneComponents, ControlPlaneInit } from './control-plane-init.js'
import { LocalMember } from './local-member.js'
import { SnapshotKeeper, type SnapshotTarget } from './snapshot-keeper.js'

// The parts ControlPlane's constructor puts together (index.ts), one function each, from
// its init and components; what they ask of ControlPlane itself comes in as hooks.

/** This node's etcd member; it finds the running members through the mesh's records. */
export function localMemberFor(init: ControlPlaneInit, c: ControlPlaneComponents): LocalMember {
  const cfg = init.config
  return new LocalMember(
    {
      stateDir: init.stateDir,
      nodeId: init.nodeId,
      clusterId: init.clusterId,
      address: init.address,
      etcd: cfg.etcd,
    },
    {
      clock: c.clock,
      random: c.random,
      // The root logger: the etcd process stamps its own component on its lines.
      log: c.log,
      events: c.events,
      trust: c.trust,
      caPem: c.caPem,
      meshSettled: () => meshSettled(c, init.nodeId),
      otherMembers: () =>
        c.peers
          .members()
          .map((m) => m.signed.body)
          .filter((b) => b.roles.includes('etcd-voter') || b.roles.includes('etcd-learner'))
          .flatMap((b) => (b.addresses[0] ? [clientUrlOf(b.addresses[0], cfg.etcd.clientPort)] : [])),
    },
  )
}

/** The placement settings of this node's config, as the coordinator decides by them. */
export function placementPolicyOf(cfg: ControlPlaneInit['config']): PlacementPolicy {
  return PlacementPolicy.parse({
    eligibleArchs: cfg.eligibleArchs,
    fallbackArchs: cfg.fallbackArchs,
    fsyncP99MsMax: cfg.fsyncP99MsMax,
    failoverGraceMs: cfg.failoverGraceMs,
    votersTarget: cfg.votersTarget,
  })
}

/** The reconciler this node runs while it holds the coordinator seat. */
export function coordinatorFor(
  init: ControlPlaneInit,
  c: ControlPlaneComponents,
  log: Logger,
  hooks: Pick<CoordinatorComponents, 'etcd' | 'leadership' | 'nodes' | 'assign' | 'retire' | 'access'>,
): Coordinator {
  const cfg = init.config
  const policy = placementPolicyOf(cfg)
  return new Coordinator(
    {
      selfId: init.nodeId,
      signer: init.identity,
      policy,
      reconcileMs: cfg.reconcileMs,
      peerUrlOf: (a) => peerUrlOf(a, cfg.etcd.peerPort),
    },
    {
      ...hooks,
      clock: c.clock,
      random: c.random,
      log,
      events: c.events,
      ...(c.counters ? { counters: c.counters } : {}),
    },
  )
}

/** The coordinator's snapshots of etcd, sent to the voters. */
export function snapshotKeeperFor(
  init: ControlPlaneInit,
  c: ControlPlaneComponents,
  log: Logger,
  hooks: { clientUrl: string; isLeader: () => boolean; targets: () => SnapshotTarget[] },
): SnapshotKeeper {
  const cfg = init.config
  return new SnapshotKeeper(
    {
      stateDir: init.stateDir,
      nodeId: init.nodeId,
      clientUrl: hooks.clientUrl,
      intervalMs: cfg.snapshotIntervalMs,
      ...(cfg.etcd.binDir ? { etcdBinDir: cfg.etcd.binDir } : {}),
    },
    { clock: c.clock, random: c.random, log, isLeader: hooks.isLeader, targets: hooks.targets },
  )
}

/** Another node alive this long: its trust gossip (the settings and their etcd epoch) has come. */
const settleMs = 3000
/** A lone board after a power cut still starts its member after this long. */
const settleWaitMsMax = 15_000

/**
 * Resolves once another node has been alive in the mesh for `settleMs`, or after
 * `settleWaitMsMax`: a member that was away learns of a recovery before it starts etcd.
 */
export async function meshSettled(
  c: Pick<ControlPlaneComponents, 'peers' | 'clock'>,
  selfId: string,
): Promise<void> {
  const started = c.clock.monoMs()
  let since: number | null = null
  while (c.clock.monoMs() - started < settleWaitMsMax) {
    const alive = c.peers.members().some((m) => m.state === 'alive' && m.signed.body.id !== selfId)
    since = alive ? (since ?? c.clock.monoMs()) : null
    if (since !== null && c.clock.monoMs() - since >= settleMs) return
    await new Promise<void>((r) => c.clock.setTimeout(r, 250))
  }
}
