import type { AgentConfig } from '../config/schema.js'
import type { ControlPlane } from '../controlplane/index.js'
import type { Clock } from '../core/clock.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Facts } from '../facts/index.js'
import type { Identity } from '../identity/identity.js'
import type { PeerView } from '../mesh/peers.js'
import type { CertBook } from '../trust/cert-book.js'
import type { Trust } from '../trust/trust.js'
import { Kube, type VoterNode } from './index.js'

// The agent's adapters for Kubernetes, kept out of the composition root: who the voters
// are (mesh records), whether this node is one (its etcd member), who coordinates.

export interface StartKubeInit {
  stateDir: string
  identity: Identity
  name: string
  host: string
  config: AgentConfig
  facts: Facts
  clock: Clock
  random?: Random
  log: Logger
  trust: Trust
  book: CertBook
  peers: PeerView
  controlPlane: ControlPlane | null
  events?: EventLog
}

export async function startKube(i: StartKubeInit): Promise<Kube> {
  const isVoter = () => i.controlPlane?.local.isVoter() ?? false
  const voters = (): VoterNode[] => {
    const out: VoterNode[] = isVoter() ? [{ name: i.name, address: i.host }] : []
    for (const m of i.peers.members()) {
      const b = m.signed.body
      const up = m.state === 'alive' || m.state === 'suspect'
      const address = b.addresses[0]
      if (up && address && b.id !== i.identity.id && b.roles.includes('etcd-voter'))
        out.push({ name: b.name, address })
    }
    return out
  }
  const kube = await Kube.create(
    {
      stateDir: i.stateDir,
      nodeId: i.identity.id,
      nodeName: i.name,
      host: i.host,
      config: i.config.kube,
      etcdClientPort: i.config.controlPlane.etcd.clientPort,
      facts: {
        name: i.name,
        address: i.host,
        arch: i.facts.arch.startsWith('arm') ? 'arm64' : 'amd64',
        // The profile name (pi4, rock5b) in labs; the machine's model on real boards.
        board: i.config.board ?? i.facts.board,
        storageClass: i.facts.dataStorageClass,
        nodeId: i.identity.id,
      },
    },
    {
      clock: i.clock,
      random: i.random,
      log: i.log,
      caPem: () => i.book.ca,
      ca: () => i.trust.caMaterial(),
      requestCertificate: (profile) => i.trust.requestNodeCertificate(profile),
      isVoter,
      etcdEpoch: () => i.controlPlane?.local.epoch ?? 0,
      isCoordinator: () => i.controlPlane?.seat.isLeader() ?? false,
      voters,
      mesh: (idOrName) => {
        const m = i.peers.find(idOrName)
        if (!m) return undefined
        return { state: m.state, deadSinceMs: m.state === 'dead' ? m.stateSinceMs : null }
      },
      events: i.events,
    },
  )
  await kube.start()
  return kube
}
