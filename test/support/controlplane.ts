import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClusterView } from '../../agent/api/cluster-schema.js'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { EtcdClient } from '../../agent/etcd/client.js'
import { ETCD_ADMIN_USER } from '../../agent/etcd/etcd-auth.js'
import { clientUrlOf, etcdFiles } from '../../agent/etcd/spec.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { readAdminConfig } from '../../agent/trust/admin-config.js'
import {
  PLACEMENT_KEY,
  type PlacementRecord,
  parsePlacementRecord,
} from '../../control/coordinator/placement-record.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView } from '../../lab/wait.js'
import { realClock } from './etcd-lab.js'
import { TEST_MESH } from './lab.js'

// Helpers for control-plane tests on a loopback lab: an etcd client with a member's
// client certificate (the files stay readable after that member is unplugged), and
// the control plane as a node's status API reports it, by node name.

/** Short timings: mesh death in ~4 s, failover grace 5 s, a quick coordinator lease. */
export const CP_CONFIG = {
  mesh: TEST_MESH,
  controlPlane: { failoverGraceMs: 5000, reconcileMs: 1000, leaseTtlSeconds: 3 },
}

/** An etcd client on the given nodes' client ports, with the founder's etcd client certificate. */
export function etcdClientFor(lab: LabFile, nodes: readonly LabNode[]): Promise<EtcdClient> {
  return etcdClientWith(
    lab.nodes[0]!.stateDir,
    nodes.map((n) => clientUrlOf(n.address)),
  )
}

/**
 * An etcd client as the admin of the cluster founded in `stateDir` (its admin.json: the
 * name-less gateway certificate and the password, etcd/etcd-auth.ts).
 */
export async function etcdClientWith(
  stateDir: string,
  endpoints: readonly string[],
  requestTimeoutMs = 3000,
): Promise<EtcdClient> {
  const admin = await readAdminConfig(join(stateDir, 'admin.json'))
  if (!admin.etcd) throw new Error(`${stateDir}/admin.json has no etcd login`)
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(admin.caCert, 'utf8'),
    readFile(admin.etcd.cert, 'utf8'),
    readFile(admin.etcd.key, 'utf8'),
  ])
  const login = { name: ETCD_ADMIN_USER, password: admin.etcd.password }
  return new EtcdClient(
    { endpoints: [...endpoints], tls: { caPem, certPem, keyPem, login }, requestTimeoutMs },
    { clock: realClock },
  )
}

export interface NamedControlPlane {
  voters: string[]
  learners: string[]
  leader: string | null
  coordinator: string | null
  quorum: boolean
  source: string
}

/** The control plane a node reports, with node names instead of ids. */
export function named(v: ClusterView): NamedControlPlane {
  const name = (id: string) => v.members.find((m) => m.id === id)?.name ?? id
  return {
    voters: v.controlPlane.voters.map(name).sort(),
    learners: v.controlPlane.learners.map(name).sort(),
    leader: v.controlPlane.leader === null ? null : name(v.controlPlane.leader),
    coordinator: v.coordinator === null ? null : name(v.coordinator),
    quorum: v.controlPlane.quorum,
    source: v.controlPlane.source,
  }
}

export async function controlPlaneOf(node: LabNode): Promise<NamedControlPlane | null> {
  const v = await fetchClusterView(nodeUrl(node))
  return v ? named(v) : null
}

export async function readPlacement(client: EtcdClient): Promise<PlacementRecord | undefined> {
  const kv = await client.get(PLACEMENT_KEY)
  if (!kv) return undefined
  const r = parsePlacementRecord(kv.value)
  if (!r.ok) throw new Error(r.error)
  return r.record
}

/** A board the cluster removed has noticed: its etcd stopped, its data and CA key wiped. */
export async function removedAndWiped(node: LabNode): Promise<true | string> {
  const exists = (p: string) =>
    access(p).then(
      () => true,
      () => false,
    )
  const s = await readLocalState(node.stateDir).catch(() => null)
  const data = await exists(etcdFiles(node.stateDir).dataDir)
  const caKey = await exists(pkiPaths(node.stateDir).caKey)
  return s?.status === 'removed' && !data && !caKey
    ? true
    : `${node.name}: ${s?.status}, data ${data}, CA key ${caKey}`
}

/** Exactly these nodes are voters, no learners, and each answers /health. */
export async function healthyVoters(client: EtcdClient, nodes: readonly LabNode[]): Promise<true | string> {
  try {
    const list = await client.memberList()
    const voters = list.members.filter((m) => !m.isLearner).map((m) => m.name)
    const learners = list.members.filter((m) => m.isLearner)
    const ids = await Promise.all(nodes.map((n) => nodeIdOf(n)))
    if (learners.length > 0) return `learners: ${learners.length}`
    if (voters.length !== nodes.length || !ids.every((id) => voters.includes(id)))
      return `${voters.length} voters, not yet ${nodes.map((n) => n.name).join(', ')}`
    const health = await Promise.all(nodes.map((n) => client.health(clientUrlOf(n.address), 2000)))
    const bad = health.filter((h) => !h.healthy)
    return bad.length === 0 ? true : `unhealthy: ${bad.map((h) => h.endpoint).join(' ')}`
  } catch (err) {
    return (err as Error).message
  }
}

const ids = new Map<string, string>()
/** A node's id (its etcd member name), from its own status API, remembered. */
export async function nodeIdOf(node: LabNode): Promise<string> {
  const known = ids.get(node.stateDir)
  if (known) return known
  const v = await fetchClusterView(nodeUrl(node))
  if (!v) throw new Error(`${node.name} does not answer`)
  ids.set(node.stateDir, v.self)
  return v.self
}
