import type { MeshNode } from '../../control/rollout/observe.js'
import type { ControlPlane } from '../controlplane/index.js'
import type { Mesh } from '../mesh/mesh.js'
import { foldSuccessors } from '../mesh/successors.js'
import type { Releases } from '../release/index.js'
import type { CertBook } from '../trust/cert-book.js'
import type { Trust } from '../trust/trust.js'

// What the rollout part (rollout.ts) and its 7443 routes (upgrade-routes.ts) are given,
// and how they see the mesh's nodes.

export interface RolloutDeps {
  clusterId: string
  trust: Trust
  book: CertBook
  mesh: Mesh
  controlPlane: ControlPlane | null
  /** The release service, once the surface started it. */
  releases(): Releases | null
  /** Stop this agent so the machine boots again (the reboot a slot change needs). */
  restart(): void
}

/** The 7443 base URL of a mesh node. */
export function tlsUrl(m: { address: string | null; tlsPort: number }): string {
  return `https://${m.address}:${m.tlsPort}`
}

export function meshNodes(mesh: Mesh): (MeshNode & { address: string | null; tlsPort: number })[] {
  const self = mesh.peers.self()
  const of = (b: typeof self, alive: boolean, sinceMs: number | null) => ({
    id: b.id,
    name: b.name,
    alive,
    deadSinceMs: alive ? null : sinceMs,
    voter: b.roles.includes('etcd-voter'),
    version: b.version,
    startedAtMs: b.startedAtMs ?? null,
    address: b.addresses[0] ?? null,
    tlsPort: b.ports.tls,
    ...(b.facts.ramOnly ? { ramOnly: true, macs: b.facts.macs } : {}),
  })
  // A netbooted machine booted again is a new member: its former ids fold into it (successors.ts).
  return foldSuccessors([
    of(self, true, null),
    ...mesh.peers
      .members()
      .filter((m) => m.signed.body.id !== self.id)
      .map((m) => of(m.signed.body, m.state !== 'dead', m.stateSinceMs)),
  ])
}
