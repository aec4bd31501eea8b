import type { Member } from './membership.js'
import type { NodeRecordBody } from './record.js'
import type { PeerConn } from './swarm.js'

/**
 * The mesh's published read model: who the members are and how to reach them. Every
 * other layer (trust, control plane, Kubernetes, the API) reads the cluster through
 * this and never through the mesh's table or transport, so the mesh can change how it
 * keeps members (SWIM, bounded connections) without them noticing.
 */
export interface PeerView {
  readonly selfId: string
  /** Our own record as it is now. */
  self(): NodeRecordBody
  /** Every member we know (not us), with its state. */
  members(): Member[]
  byId(id: string): Member | undefined
  /** By the hex of its Noise (= record) public key. */
  byKey(publicKeyHex: string): Member | undefined
  /** By id, else by name. */
  find(idOrName: string): Member | undefined
  /** Alive members whose record says etcd voter. */
  aliveVoters(): Member[]
  /** Open connections (members and strangers alike). */
  connections(): PeerConn[]
  connectionFor(publicKeyHex: string): PeerConn | undefined
}

/** The PeerView over a member list and a connection list (the mesh builds it from its own). */
export function peerView(
  selfId: string,
  self: () => NodeRecordBody,
  members: () => Member[],
  connections: () => PeerConn[],
): PeerView {
  const byId = (id: string) => members().find((m) => m.signed.body.id === id)
  return {
    selfId,
    self,
    members,
    byId,
    byKey: (key) => members().find((m) => m.signed.body.publicKey === key),
    find: (idOrName) => byId(idOrName) ?? members().find((m) => m.signed.body.name === idOrName),
    aliveVoters: () =>
      members().filter((m) => m.state === 'alive' && m.signed.body.roles.includes('etcd-voter')),
    connections,
    connectionFor: (key) => connections().find((c) => c.remoteKeyHex === key),
  }
}
