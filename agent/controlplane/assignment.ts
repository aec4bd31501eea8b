import type { Clock } from '../core/clock.js'
import { gatewayTls } from '../etcd/etcd-auth.js'
import { parseInitialCluster } from '../etcd/model/initial-cluster.js'
import { clientUrlOf } from '../etcd/spec.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import { caKeyMatches } from '../trust/signing.js'
import { checkEtcdCerts, type EtcdCerts } from './certs.js'
import { coordinatorOf } from './member-queries.js'

// The checks an etcd assignment (etcd-assign) passes before this node wipes its etcd data
// and starts as the member it names: its contents (pure), then that its sender is the
// coordinator etcd names. Each returns why it refuses, or null.

/** An assignment as received (etcd-assign), already schema-checked. */
export interface Assignment {
  memberId: string
  initialCluster: string
  token: string
  certs: EtcdCerts
  caKey: string
  /** The sender's etcd epoch (epoch.ts). */
  epoch?: number
  /** The sender's node id (from its authenticated mesh key); null when not a known member. */
  from: string | null
}

export interface AssignedNode {
  nodeId: string
  peerUrl: string
  clientPort: number
}

/** The CA key is our CA's, the certificates are ours and valid, the initial cluster lists us. */
export function checkAssignment(
  a: Assignment,
  caPem: string,
  me: AssignedNode,
  nowMs: number,
): string | null {
  if (!caKeyMatches(caPem, a.caKey)) return 'the CA key does not belong to our CA'
  const certs = checkEtcdCerts(a.certs, caPem, me.nodeId, nowMs)
  if (certs) return certs
  try {
    const entries = parseInitialCluster(a.initialCluster)
    if (!entries.some((e) => e.name === me.nodeId && e.peerUrl === me.peerUrl))
      return `the initial cluster does not list ${me.nodeId}=${me.peerUrl}`
  } catch (err) {
    return (err as Error).message
  }
  return null
}

/**
 * Only the coordinator hands out seats: asked of the members the assignment lists, with
 * the client certificate it carries (a CA-key holder that is not the coordinator, e.g. a
 * voter with a stale view, is refused; the real coordinator resends after a few seconds).
 */
export async function checkSender(
  a: Assignment,
  caPem: string,
  me: AssignedNode,
  clock: Clock,
): Promise<string | null> {
  let endpoints: string[]
  try {
    endpoints = parseInitialCluster(a.initialCluster)
      .filter((e) => e.name !== me.nodeId)
      .map((e) => clientUrlOf(new URL(e.peerUrl).hostname.replace(/^\[|\]$/g, ''), me.clientPort))
  } catch (err) {
    return (err as Error).message
  }
  if (endpoints.length === 0) return 'the initial cluster lists no other member to ask'
  const tls = gatewayTls(
    { certPem: caPem, keyPem: a.caKey },
    me.nodeId,
    clock,
    await generateRsaKeyPemAsync(),
  )
  try {
    const coordinator = await coordinatorOf(endpoints, tls, clock)
    if (coordinator === null || coordinator !== a.from)
      return `sent by ${a.from ?? 'an unknown node'}, but etcd names ${coordinator ?? 'no one'} coordinator`
    return null
  } catch (err) {
    return `could not ask etcd who coordinates: ${(err as Error).message}`
  }
}
