import { existsSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { RolloutKube } from '../../control/rollout/kube.js'
import type { MeshNode, SlotsRead } from '../../control/rollout/observe.js'
import { RolloutController } from '../../control/rollout/reconciler.js'
import type { TargetRelease } from '../../control/rollout/record.js'
import { PeerClient } from '../api/peer-client.js'
import type { TlsGuards } from '../api/tls-server.js'
import type { ControlPlane } from '../controlplane/index.js'
import type { Component } from '../core/lifecycle.js'
import { kubePaths } from '../kube/paths.js'
import type { Releases } from '../release/index.js'
import type { Release } from '../release/manifest.js'
import { setCurrentRelease } from '../release/writes.js'
import { grubSlotsOnDisk } from '../slots/disk-boot.js'
import { LabSlots } from '../slots/lab.js'
import { netbootSlotsOnMachine } from '../slots/netboot-machine.js'
import { registerNetbootSlotsRoutes } from '../slots/netboot-routes.js'
import { SlotsService } from '../slots/service.js'
import type { BootSlots, SlotReport } from '../slots/types.js'
import { registerDrainRoutes } from './drain-routes.js'
import type { NodeBase } from './node.js'
import { meshNodes, type RolloutDeps, tlsUrl } from './rollout-deps.js'
import { rolloutKubeFromKubeconfig } from './rollout-kube.js'
import { type RolloutSummary, RolloutView } from './rollout-view.js'
import { SelfDrain } from './self-drain.js'
import { ShutdownOnRequest, type StopRequest } from './shutdown-routes.js'
import { registerUpgradeRoutes, upgradeView } from './upgrade-routes.js'

// Boot slots and rollouts in the agent: every node runs the slots service (its report
// and the CA-signed orders it takes over 7443); a node with the control plane also runs
// the rollout controller, which acts only while it is the coordinator, and answers the
// admin's `homecloud upgrade …` on 7443.

export interface RolloutPart {
  slots: SlotsService
  rollout: RolloutController | null
  /** Resolves when this node asks for its machine to boot again (a boot-slot change). */
  restartRequested: Promise<void>
  /** The surface tells it the release service once that started (null: it did not). */
  setReleases(r: Releases | null): void
  /** What the status page shows of the rollout (null: none, or not known here yet). */
  view(): RolloutSummary | null
  /** A shutdown on purpose (SIGTERM): drain this node first when configured to (bounded; never throws). */
  beforeShutdown(): Promise<void>
  /** Resolves when `homecloud shutdown` drained this node: its agent stops then. */
  stopRequested: Promise<StopRequest>
  register(app: FastifyInstance, guards: TlsGuards): void
  component: Component
}

export function rolloutPart(n: NodeBase, base: Omit<RolloutDeps, 'releases' | 'restart'>): RolloutPart {
  let releases: Releases | null = null
  let restart = () => {}
  const restartRequested = new Promise<void>((resolve) => {
    restart = resolve
  })
  const d: RolloutDeps = { ...base, releases: () => releases, restart: () => restart() }
  const slots = new SlotsService({
    nodeId: n.identity.id,
    clusterId: d.clusterId,
    stateDir: n.stateDir,
    backend: bootSlots(n, d),
    caPem: () => d.book.ca,
    release: (id) => releaseFor(d.releases(), id),
    clock: n.clock,
    log: n.log,
  })
  const peers = new PeerClient({ material: () => d.trust.certificate(), counters: n.counters })
  // The controller runs only where it is switched on (config rollout.enabled) and on a
  // node with the control plane; it acts only while that node is the coordinator.
  const rollout =
    d.controlPlane && n.config.rollout.enabled ? rolloutController(n, d, d.controlPlane, peers) : null
  const cp = d.controlPlane
  const view = new RolloutView(n, d, {
    peers,
    local: cp ? () => upgradeView({ n, d, controlPlane: cp, rollout, peers }) : null,
  })
  // Only a node running Kubernetes has anything to drain. shutdownDrain.enabled governs
  // SIGTERM; `homecloud shutdown` drains whenever it can.
  const selfDrain = n.config.kube.enabled ? new SelfDrain(n, d.mesh, peers) : null
  const shutdown = new ShutdownOnRequest(n, selfDrain, process.env.INVOCATION_ID !== undefined)
  return {
    slots,
    rollout,
    restartRequested,
    stopRequested: shutdown.stopRequested,
    view: () => view.summary(),
    beforeShutdown: async () => {
      if (n.config.shutdownDrain.enabled) await selfDrain?.beforeShutdown(n.config.shutdownDrain.timeoutMs)
    },
    setReleases: (r) => {
      releases = r
    },
    register(app, guards) {
      slots.register(app)
      shutdown.register(app, guards)
      registerNetbootSlotsRoutes(app, {
        memberEtcd: () => d.releases()?.service.memberEtcd() ?? null,
        caPem: () => d.book.ca,
        clusterId: d.clusterId,
        clock: n.clock,
        macsOf: (id) => {
          const self = d.mesh.peers.self()
          return (id === self.id ? self : d.mesh.peers.byId(id)?.signed.body)?.facts.macs ?? null
        },
      })
      if (!d.controlPlane) return
      registerUpgradeRoutes(app, guards, { n, d, controlPlane: d.controlPlane, rollout, peers })
      if (n.config.kube.enabled)
        registerDrainRoutes(app, {
          n,
          mesh: d.mesh,
          controlPlane: d.controlPlane,
          isRevoked: (id) => d.book.isRevoked(id),
        })
    },
    component: {
      name: 'rollout',
      start: () => {
        rollout?.start()
        view.start()
        selfDrain?.start()
      },
      stop: async () => {
        await selfDrain?.stop()
        await view.stop()
        await rollout?.stop()
        peers.close()
      },
    },
  }
}

function bootSlots(n: NodeBase, d: RolloutDeps): BootSlots | null {
  const cfg = n.config.slots
  if (cfg.backend === 'lab' && cfg.dir)
    return new LabSlots(cfg.dir, { clock: n.clock, log: n.log, restart: d.restart })
  // A homecloud disk: the agent stops cleanly, then the CLI reboots the machine into GRUB.
  if (cfg.backend === 'grub')
    return grubSlotsOnDisk({
      arch: process.arch === 'arm64' ? 'arm64' : 'amd64',
      clock: n.clock,
      reboot: async () => d.restart(),
    })
  // A netbooted machine: its slots are the serving nodes' per-MAC record (agent/slots/netboot-*.ts).
  if (cfg.backend === 'netboot')
    return netbootSlotsOnMachine({
      mac: cfg.mac,
      arch: process.arch === 'arm64' ? 'arm64' : 'amd64',
      voters: () =>
        meshNodes(d.mesh).flatMap((m) =>
          m.voter && m.alive && m.address ? [{ ...m, address: m.address }] : [],
        ),
      client: new PeerClient({ material: () => d.trust.certificate(), counters: n.counters }),
      log: n.log,
      restart: d.restart,
    })
  return null
}

function releaseFor(
  releases: Releases | null,
  id: string,
): { release: Release; dir: string } | { missing: string } {
  if (!releases) return { missing: 'this node runs no release service' }
  const held = releases.service.store.get(id)
  if (held?.have.complete()) return { release: held.release, dir: held.dir }
  return {
    missing: held
      ? `release ${id.slice(0, 12)} is not complete here yet (${held.have.count()} of ${held.pieces.length} pieces)`
      : `this node does not hold release ${id.slice(0, 12)} yet`,
  }
}

function rolloutController(
  n: NodeBase,
  d: RolloutDeps,
  cp: ControlPlane,
  peers: PeerClient,
): RolloutController {
  const cfg = n.config.rollout
  let kube: RolloutKube | null = null
  const kubeconfig = kubePaths(n.stateDir).adminKubeconfig
  const nodes = () => meshNodes(d.mesh)
  const read = async (m: MeshNode): Promise<SlotsRead> => {
    const x = nodes().find((y) => y.id === m.id)
    if (!x?.address) return { slots: null, error: 'no address' }
    try {
      const a = (await peers.get({
        url: `${tlsUrl(x)}/api/v1/slots`,
        nodeId: m.id,
        bodyBytesMax: 64 * 1024,
        timeoutMs: 3000,
        what: 'slots',
      })) as { slots: SlotReport | null; reason: string | null; noSlots?: boolean }
      return {
        slots: a.slots,
        error: a.slots ? null : a.reason,
        ...(a.noSlots === true ? { noSlots: true } : {}),
      }
    } catch (err) {
      return { slots: null, error: (err as Error).message.slice(0, 200) }
    }
  }
  return new RolloutController(
    { selfId: n.identity.id, clusterId: d.clusterId, policy: cfg, everyMs: cfg.everyMs },
    {
      clock: n.clock,
      log: n.log.child({ component: 'rollout' }),
      random: n.random,
      counters: n.counters,
      events: n.events,
      isLeader: () => cp.seat.isLeader(),
      etcd: () => cp.local.client(),
      caPem: () => d.book.ca,
      caKeyPem: () => d.trust.caMaterial()?.keyPem ?? null,
      mesh: nodes,
      readSlots: read,
      whyNotMember: (id) => (d.book.isRevoked(id) ? 'revoked' : null),
      sendOrder: async (m, signed) => {
        const x = nodes().find((y) => y.id === m.id)
        if (!x?.address) throw new Error(`${m.name} has no address`)
        await peers.post({
          url: `${tlsUrl(x)}/api/v1/slots/order`,
          nodeId: m.id,
          bodyBytesMax: 64 * 1024,
          timeoutMs: 120_000,
          what: 'slots',
          body: signed,
        })
      },
      kube: async () => {
        if (!n.config.kube.enabled || !existsSync(kubeconfig)) return null
        kube ??= await rolloutKubeFromKubeconfig(kubeconfig)
        return kube
      },
      setCurrent: (arch, t) => setCurrent(d, cp, arch, t, n.clock.nowMs()),
    },
  )
}

async function setCurrent(
  d: RolloutDeps,
  cp: ControlPlane,
  arch: 'amd64' | 'arm64',
  t: TargetRelease,
  nowMs: number,
) {
  const releases = d.releases()
  const etcd = cp.local.client()
  const caKeyPem = d.trust.caMaterial()?.keyPem
  const entry = releases?.service.records.published.get(t.id)
  if (!releases || !etcd || !caKeyPem || !entry)
    throw new Error(`cannot make ${t.version} current for ${arch} from here`)
  const version = await setCurrentRelease(etcd, releases.service.records, {
    clusterId: d.clusterId,
    caKeyPem,
    release: entry.release,
    by: 'rollout',
    nowMs,
  })
  // Null: it already was current — or another signer wrote `current` between the read and
  // the compare-and-swap. Only the first is done; throwing keeps the rollout from recording
  // "completed", so the next pass tries again.
  if (version === null && releases.service.records.current?.archs[arch]?.id !== t.id)
    throw new Error(`${t.version} is not current for ${arch} yet: another write to it came first`)
}
