import { type ObservedNode, observedNode } from '../../control/coordinator/observe.js'
import { COORDINATOR_ELECTION } from '../../control/coordinator/placement-record.js'
import type { Coordinator, CoordinatorEtcd } from '../../control/coordinator/reconciler.js'
import type { Logger } from '../core/log.js'
import { EtcdError } from '../etcd/model/errors.js'
import { idHex } from '../etcd/model/ids.js'
import { formatInitialCluster, type InitialClusterEntry } from '../etcd/model/initial-cluster.js'
import { peerUrlOf } from '../etcd/spec.js'
import type { Role } from '../mesh/record.js'
import type { MeshRouter } from '../mesh/router.js'
import type { PeerConn } from '../mesh/swarm.js'
import { type EtcdCerts, issueEtcdCerts } from './certs.js'
import type { ControlPlaneComponents, ControlPlaneInit } from './control-plane-init.js'
import { accessHooks } from './etcd-access.js'
import type { LocalMember } from './local-member.js'
import { EtcdAssign, EtcdRetire, SnapshotChunk } from './messages.js'
import { coordinatorFor, localMemberFor, snapshotKeeperFor } from './parts.js'
import { ClaimWatch, contradictedClaims } from './role-claims.js'
import { CoordinatorSeat } from './seat.js'
import type { SnapshotKeeper, SnapshotTarget } from './snapshot-keeper.js'
import { SnapshotReceiver } from './snapshot-transfer.js'
import { ControlView, type VerifiedMembership, type ViewInput } from './view.js'

// The control plane on one node: its own etcd member (LocalMember), the coordinator
// election (CoordinatorSeat), the reconciler that runs while this node coordinates
// (control/coordinator), and the status view. It is the mesh's control hook: it
// receives etcd-assign / etcd-retire and sends them.

export type { ControlPlaneComponents, ControlPlaneInit } from './control-plane-init.js'

const certCacheMax = 8
/** Control-plane messages and claims refused, by reason (docs/errors.md lists them). */
export const CONTROL_REFUSED_TOTAL = 'homecloud_control_refused_total'

export class ControlPlane {
  readonly local: LocalMember
  readonly seat: CoordinatorSeat
  readonly coordinator: Coordinator
  readonly view: ControlView
  readonly snapshots: SnapshotKeeper
  private readonly receiver: SnapshotReceiver
  private readonly certCache = new Map<string, EtcdCerts>()
  private readonly claims = new ClaimWatch()
  private readonly log: Logger

  constructor(
    private readonly init: ControlPlaneInit,
    private readonly c: ControlPlaneComponents,
  ) {
    const cfg = init.config
    const log = c.log.child({ component: 'control-plane' })
    this.log = log
    this.local = localMemberFor(init, c)
    this.seat = new CoordinatorSeat(
      { election: COORDINATOR_ELECTION, nodeId: init.nodeId, ttlSeconds: cfg.leaseTtlSeconds },
      {
        clock: c.clock,
        random: c.random,
        log,
        isVoter: () => this.local.isVoter(),
        client: () => this.local.client(),
        generation: () => this.local.generation,
      },
    )
    this.coordinator = coordinatorFor(init, c, log, {
      etcd: this.etcdAdapter(),
      leadership: { isLeader: () => this.seat.isLeader(), leaderKey: () => this.seat.leaderKey() },
      nodes: () => this.observedNodes(),
      assign: (id, memberId, ic) => this.sendAssign(id, memberId, ic),
      retire: (id, memberId) => this.sendRetire(id, memberId),
      access: accessHooks({
        client: () => this.local.client(),
        caKeyPem: () => this.c.trust.caMaterial()?.keyPem ?? null,
        log,
      }),
    })
    this.snapshots = snapshotKeeperFor(init, c, log, {
      clientUrl: this.local.clientUrl,
      isLeader: () => this.seat.isLeader(),
      targets: () => this.snapshotTargets(),
    })
    this.receiver = new SnapshotReceiver(init.stateDir, {
      clock: c.clock,
      log,
      voterIdOfKey: (key) => this.snapshotVoterId(key),
    })
    this.view = new ControlView({
      clock: c.clock,
      random: c.random,
      log,
      local: this.local,
      stateDir: init.stateDir,
      nodes: () => this.viewNodes(),
      peerUrlOf: (a) => peerUrlOf(a, cfg.etcd.peerPort),
      onMembership: (m) => this.checkClaims(m),
    })
    this.registerRoutes(c.router)
  }

  /** The snapshot chunk's sender, when it is an etcd voter (else refused and counted). */
  private snapshotVoterId(key: string): string | null {
    const m = this.c.peers.byKey(key)
    const b = m?.state === 'alive' ? m.signed.body : undefined
    // etcd's voter list when this node can read it; a node without etcd can only go by the claim.
    const verified = this.view.membership()
    const voter = b !== undefined && (verified ? verified.voters.has(b.id) : b.roles.includes('etcd-voter'))
    if (!voter) this.refuse(key, 'snapshot-not-voter', 'snapshot chunk from a node that is not an etcd voter')
    return voter ? b.id : null
  }

  private registerRoutes(router: MeshRouter): void {
    router.route('etcd-assign', EtcdAssign, (conn, msg) => this.onAssign(conn, msg), { from: 'members' })
    router.route(
      'etcd-retire',
      EtcdRetire,
      (conn, msg) => void this.retireFrom(conn.remoteKeyHex, msg.memberId),
      {
        from: 'members',
      },
    )
    router.route('snapshot-chunk', SnapshotChunk, (conn, msg) => this.receiver.accept(conn, msg), {
      from: 'members',
    })
  }

  async start(): Promise<void> {
    await this.local.start()
    // Restored by `homecloud recover` while the agent was stopped: sign the new epoch in now.
    if (this.local.epoch > (this.c.trust.settings.etcdEpoch ?? 0) && this.c.trust.caMaterial())
      this.c.trust.setEtcdEpoch(this.local.epoch)
    this.seat.start()
    this.coordinator.start()
    this.snapshots.start()
    this.view.start()
  }

  async stop(): Promise<void> {
    await this.view.stop()
    await this.snapshots.stop()
    await this.receiver.stop()
    await this.coordinator.stop()
    await this.seat.stop()
    await this.local.stop()
  }

  /** What this node announces in its record. */
  roles(): Role[] {
    return [...this.local.roles(), ...(this.seat.isLeader() ? (['coordinator'] as const) : [])]
  }

  clusterView() {
    return this.view.current()
  }

  /** etcd's view from this node's own member, or null (a worker, or a member that cannot read). */
  etcdView() {
    return this.view.etcdView()
  }

  private onAssign(conn: PeerConn, msg: EtcdAssign): void {
    const from = conn.remoteKeyHex.slice(0, 12)
    this.c.log.info({ from, memberId: msg.memberId }, 'etcd assignment received')
    void this.local
      .assign({
        memberId: msg.memberId,
        initialCluster: msg.initialCluster,
        token: msg.token,
        caKey: msg.caKey,
        epoch: msg.epoch ?? 0,
        from: this.c.peers.byKey(conn.remoteKeyHex)?.signed.body.id ?? null,
        certs: {
          'etcd-peer': { certPem: msg.peer.cert, keyPem: msg.peer.key },
          'etcd-server': { certPem: msg.server.cert, keyPem: msg.server.key },
          'etcd-client': { certPem: msg.client.cert, keyPem: msg.client.key },
        },
      })
      .then(
        (refused) => {
          if (refused) this.refuse(conn.remoteKeyHex, 'assign-refused', refused)
        },
        (err) => this.c.log.error({ err: (err as Error).message }, 'etcd assignment failed'),
      )
  }

  /** "You were removed": believed only from the coordinator etcd names, then checked with the members. */
  private async retireFrom(key: string, memberId: string): Promise<void> {
    const sender = this.c.peers.byKey(key)?.signed.body.id
    const coordinator = await this.local.coordinatorPerEtcd()
    if (sender === undefined || coordinator !== sender) {
      this.refuse(
        key,
        'retire-not-coordinator',
        `etcd-retire from ${sender ?? 'an unknown node'}; the coordinator is ${coordinator ?? 'unknown'}`,
      )
      return
    }
    this.c.log.info({ from: sender, memberId }, 'told we were removed from etcd: checking')
    this.local.checkMembership(true)
  }

  private refuse(key: string, reason: string, detail: string): void {
    this.c.counters?.inc(CONTROL_REFUSED_TOTAL, { reason })
    this.log.warn(
      { from: key.slice(0, 12), reason, detail, code: 'CONTROL_REFUSED' },
      'refused a control-plane message or claim',
    )
  }

  /** Seats claimed in mesh records that etcd contradicts: counted once each, never believed. */
  private checkClaims(m: VerifiedMembership): void {
    if (!m.quorum) return
    const bodies = this.c.peers
      .members()
      .filter((x) => x.state === 'alive' && x.signed.body.id !== this.init.nodeId)
      .map((x) => x.signed.body)
    const keyOf = new Map(bodies.map((b) => [b.id, b.publicKey]))
    for (const [id, claim] of this.claims.update(contradictedClaims(bodies, m)))
      this.refuse(keyOf.get(id) ?? id, 'role-claim', `${id} claims ${claim}; etcd says otherwise`)
  }

  // ---- adapters ----

  private etcdAdapter(): CoordinatorEtcd {
    const client = () => {
      const cl = this.local.client()
      if (!cl) throw new EtcdError('ETCD_UNREACHABLE', 'this node runs no etcd member')
      return cl
    }
    return {
      memberList: () => client().memberList(),
      memberAddLearner: (urls) => client().memberAddLearner(urls),
      memberPromote: (id) => client().memberPromote(id),
      memberRemove: (id) => client().memberRemove(id),
      status: (endpoint, timeoutMs) => client().status(endpoint, timeoutMs),
      get: (key) => client().get(key),
      txn: (t) => client().txn(t),
    }
  }

  private observedNodes(): ObservedNode[] {
    const self = this.c.peers.self()
    const out = [observedNode(self, 'alive', self.startedAtMs)]
    for (const m of this.c.peers.members()) {
      const b = m.signed.body
      out.push(observedNode(b, m.state, m.stateSinceMs, { revoked: this.c.isRevoked(b.id) }))
    }
    return out
  }

  private snapshotTargets(): SnapshotTarget[] {
    const conns = this.c.peers.connections()
    return this.c.peers.members().flatMap((m) => {
      const b = m.signed.body
      const conn = conns.find((cn) => cn.remoteKeyHex === b.publicKey)
      if (!conn || m.state !== 'alive' || b.id === this.init.nodeId) return []
      return [{ id: b.id, voter: b.roles.includes('etcd-voter'), conn }]
    })
  }

  private viewNodes(): ViewInput[] {
    return [
      { body: this.c.peers.self(), state: 'alive' },
      ...this.c.peers.members().map((m) => ({ body: m.signed.body, state: m.state })),
    ]
  }

  private async sendAssign(nodeId: string, memberId: bigint, ic: InitialClusterEntry[]): Promise<boolean> {
    const ca = this.c.trust.caMaterial()
    if (!ca) return false
    const body = this.c.peers.byId(nodeId)?.signed.body
    const address = body?.addresses[0]
    if (!body || !address) return false
    const conn = this.c.peers.connectionFor(body.publicKey)
    // Links are bounded: hold one to the new member; the coordinator sends again shortly.
    if (!conn) {
      this.c.reach?.(nodeId)
      return false
    }
    const key = `${nodeId}/${idHex(memberId)}`
    let certs = this.certCache.get(key)
    if (!certs) {
      certs = await issueEtcdCerts({ ca, nodeId, address, clock: this.c.clock })
      if (this.certCache.size >= certCacheMax) this.certCache.clear()
      this.certCache.set(key, certs)
    }
    if (!this.seat.isLeader()) return false
    this.c.router.send(conn, {
      t: 'etcd-assign',
      memberId: idHex(memberId),
      initialCluster: formatInitialCluster(ic),
      token: this.init.clusterId,
      peer: { cert: certs['etcd-peer'].certPem, key: certs['etcd-peer'].keyPem },
      server: { cert: certs['etcd-server'].certPem, key: certs['etcd-server'].keyPem },
      client: { cert: certs['etcd-client'].certPem, key: certs['etcd-client'].keyPem },
      caKey: ca.keyPem,
      epoch: this.local.epoch,
    } satisfies EtcdAssign)
    this.c.log.info({ member: nodeId, memberId: idHex(memberId) }, 'sent an etcd assignment')
    return true
  }

  private sendRetire(nodeId: string, memberId: bigint): void {
    if (nodeId === this.init.nodeId) {
      this.local.checkMembership(true)
      return
    }
    const body = this.c.peers.byId(nodeId)?.signed.body
    const conn = body && this.c.peers.connectionFor(body.publicKey)
    // Best effort: without a link the removed member finds out by its own check.
    if (!conn) this.c.reach?.(nodeId)
    if (conn) this.c.router.send(conn, { t: 'etcd-retire', memberId: idHex(memberId) } satisfies EtcdRetire)
  }
}
