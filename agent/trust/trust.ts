import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Identity } from '../identity/identity.js'
import type { PeerView } from '../mesh/peers.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { MeshRouter } from '../mesh/router.js'
import type { CaMaterial } from '../pki/ca.js'
import type { RevocationList } from '../pki/revocations.js'
import type { ClusterFile, JoinPolicy } from '../state/cluster-file.js'
import type { SignedApproval } from './approval.js'
import { pendingView } from './approvals.js'
import type { CertBook } from './cert-book.js'
import { type CertificateMaterial, Machines } from './machines.js'
import type { NodeProfile } from './node-profile.js'
import { revocationEntry } from './revocations.js'
import { registerRoutes } from './routes.js'
import type { SignedSettings } from './signed-settings.js'
import type { TrustComponents, TrustInit } from './trust-init.js'
import type { TrustStore } from './trust-store.js'
import type { PendingEntry } from './wire.js'

export type { TrustComponents, TrustInit } from './trust-init.js'
export type { PendingEntry } from './wire.js'

/** Joins, renewals, node certificates and gossip run on this period when nothing else prompts them. */
const RETRY_MS = 2000
const NODE_CERT_TIMEOUT_MS = 15_000

/**
 * Who is a member, spoken over the mesh's Noise connections. Every protocol is a pure
 * state machine (joiner.ts, signer.ts, identity.ts, revocations.ts, settings.ts,
 * approvals.ts); machines.ts runs them and applies their effects, routes.ts turns
 * messages into their events. This is the face the rest of the agent uses.
 */
export class Trust {
  private readonly m: Machines
  /** One key: the period that drives join retries, renewal and forgetting (nothing else is periodic). */
  private readonly loop: Controller<'tick'>

  constructor(init: TrustInit, c: TrustComponents) {
    this.m = new Machines(init, c)
    registerRoutes(this.m, c)
    this.loop = new Controller<'tick'>(
      {
        name: 'trust',
        keys: () => ['tick'],
        resyncMs: RETRY_MS,
        syncAtStart: false,
        sync: () => this.m.tick(),
      },
      { clock: c.clock, random: c.random, log: c.log, counters: c.counters },
    )
  }

  get isSigner(): boolean {
    return this.m.ca !== null
  }

  /** The CA key pair, on signers only (the coordinator issues etcd certificates with it). */
  caMaterial(): CaMaterial | null {
    return this.m.ca
  }

  /**
   * Control-plane members sign too: the coordinator hands them the CA key, and takes the
   * role back when they leave etcd. The key must belong to our CA certificate; the caller
   * persists it. Returns false (and changes nothing) for a key that does not.
   */
  setCaKey(keyPem: string | null): boolean {
    return this.m.setCaKey(keyPem)
  }

  get isMember(): boolean {
    return this.m.node !== null
  }

  get status(): { status: 'joining' | 'pending' | 'member'; code: string } {
    const j = this.m.joiner.state
    // Saving its certificate, a node is still joining: no member counts it yet (join-save.ts).
    return { status: j.status === 'saving' ? 'joining' : j.status, code: j.code }
  }

  get settings(): ClusterFile {
    return this.m.settings.state.cluster
  }

  certificate(): CertificateMaterial | null {
    return this.m.certificate()
  }

  /** Our certificate changed (joined or renewed): the TLS server reloads it. */
  onCertificate(fn: (cert: CertificateMaterial) => void): void {
    this.m.certificateListeners.push(fn)
  }

  start(): void {
    if (!this.m.node) {
      const { code } = this.m.joiner.state
      this.m.c.log.info({ code }, `joining cluster ${this.settings.name}: this node's code is ${code}`)
    }
    this.loop.start()
  }

  async stop(): Promise<void> {
    await this.loop.stop()
    this.m.stop()
    await this.m.saves.flushed()
  }

  candidate(id: string): NodeRecordBody | undefined {
    return this.m.exchange.candidate(id)
  }

  pendingEntries(): PendingEntry[] {
    return pendingView(this.m.approvals.state, this.m.signer.state.pending.values(), (id) =>
      this.m.c.book.isMember(id),
    )
  }

  /**
   * Admin: let a pending node in (by name or id). Any signer may approve a node another
   * signer saw first (pending lists are gossiped); the approval is CA-signed and
   * gossiped to every node, so whichever signer the joiner reaches signs it.
   */
  approve(nameOrId: string): PendingEntry | null {
    const ca = this.m.ca
    if (!ca) throw new Error('assertion failed: approve on a node without the CA key')
    const entry = this.pendingEntries().find((e) => e.id === nameOrId || e.name === nameOrId)
    if (!entry) return null
    this.m.approveLocally(entry, ca)
    return entry
  }

  /** Admin: refuse a node's certificate everywhere from now on. */
  revoke(nodeId: string, name: string, reason: string): void {
    if (!this.m.ca) throw new Error('assertion failed: revoke on a node without the CA key')
    const serial = this.m.c.book.get(nodeId)?.serial
    const entry = revocationEntry(serial, nodeId, this.m.c.clock.nowMs(), reason)
    this.m.revocations.feed({ kind: 'revoke', entry, name })
  }

  /** After a recovery (controlplane/recover.ts): the new etcd cluster's epoch, signed and gossiped. */
  setEtcdEpoch(epoch: number): void {
    if (!this.m.ca) throw new Error('assertion failed: settings changed on a node without the CA key')
    this.m.settings.feed({ kind: 'change', change: { etcdEpoch: epoch } })
  }

  setJoinPolicy(policy: JoinPolicy): void {
    if (!this.m.ca) throw new Error('assertion failed: settings changed on a node without the CA key')
    this.m.settings.feed({ kind: 'change', change: { joinPolicy: policy } })
  }

  /** Netbooted machines' state-disk policy (written on their kernel command lines). */
  setStateDiskPolicy(policy: 'labelled-only' | 'adopt-empty'): void {
    if (!this.m.ca) throw new Error('assertion failed: settings changed on a node without the CA key')
    this.m.settings.feed({ kind: 'change', change: { stateDiskPolicy: policy } })
  }

  /**
   * This node's Kubernetes identity for `profile`: issued here when this node holds the CA
   * key, otherwise asked of every connected peer (signers answer) until one signs or refuses.
   */
  async requestNodeCertificate(
    profile: NodeProfile,
    timeoutMs = NODE_CERT_TIMEOUT_MS,
  ): Promise<{ certPem: string; keyPem: string }> {
    const own = await this.m.own.issueOwnNodeCert(profile)
    if (own) return own
    if (!this.m.node)
      throw new HomecloudError(
        'KUBE_CERT_REFUSED',
        'this node has no certificate yet',
        'wait until it has joined',
      )
    return this.m.own.askNodeCert(profile, timeoutMs)
  }
}
