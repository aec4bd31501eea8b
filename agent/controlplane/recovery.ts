import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { Agent, request } from 'node:https'
import { dirname } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { z } from 'zod'
import type { PeerClient, PeerTlsMaterial } from '../api/peer-client.js'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { parseInitialCluster } from '../etcd/model/initial-cluster.js'
import type { LocalMember } from './local-member.js'
import { readLocalState } from './local-state.js'
import { restoreSnapshot } from './recover.js'
import {
  listSnapshots,
  SnapshotManifest,
  sha256File,
  snapshotBytesMax,
  snapshotPaths,
  verifySnapshot,
  writeManifest,
} from './snapshot-store.js'

// Recovery with the agent running (the status page's action, and `homecloud recover`
// when the agent answers): the newest intact snapshot on every node that holds one, and
// the restore of the one a person picked on this surviving voter. Only without quorum:
// a cluster that still has one must never be split by a restore. The chosen snapshot
// comes from its holder over mutual TLS, checked against its manifest's sha256; etcd
// here is stopped, restored as the next epoch and started again, and the new epoch is
// signed into the cluster settings, which the mesh carries to every node.

export const NodeSnapshot = z.object({
  node: z.string().min(1).max(64),
  name: z.string().max(64),
  manifest: SnapshotManifest.nullable(),
  /** Why there is none here (no snapshot, or none intact). */
  problem: z.string().max(1024).nullable(),
})
export type NodeSnapshot = z.infer<typeof NodeSnapshot>

export interface RecoveryDeps {
  stateDir: string
  nodeId: string
  nodeName: string
  clock: Clock
  log: Logger
  local: LocalMember
  trust: {
    settings: { etcdEpoch?: number | undefined }
    setEtcdEpoch(epoch: number): void
    isSigner: boolean
  }
  /** Other alive nodes (id, name, address) to ask for their snapshots. */
  nodes: () => { id: string; name: string; address: string }[]
  apiPort: number
  peers: PeerClient
  material: () => PeerTlsMaterial | null
}

/** This node's newest intact snapshot (or why none): what GET /api/v1/snapshots answers. */
export async function newestIntact(stateDir: string, node: string): Promise<NodeSnapshot> {
  const problems: string[] = []
  for (const s of await listSnapshots(stateDir)) {
    const bad = await verifySnapshot(s)
    if (!bad) return { node, name: s.manifest.name, manifest: s.manifest, problem: null }
    problems.push(`${s.manifest.name}: ${bad}`)
  }
  const problem = problems.length ? `none intact: ${problems.join('; ')}` : 'holds no snapshot'
  return { node, name: '', manifest: null, problem: problem.slice(0, 1024) }
}

export class Recovery {
  constructor(private readonly d: RecoveryDeps) {}

  /** The newest intact snapshot on this node and every other alive node that answers. */
  async list(): Promise<(NodeSnapshot & { nodeName: string })[]> {
    const own = { ...(await newestIntact(this.d.stateDir, this.d.nodeId)), nodeName: this.d.nodeName }
    const others = await Promise.all(
      this.d.nodes().map(async (n) => {
        try {
          const body = await this.d.peers.get({
            url: `https://${n.address}:${this.d.apiPort}/api/v1/snapshots`,
            nodeId: n.id,
            bodyBytesMax: 8192,
            timeoutMs: 10_000,
            what: 'snapshots',
          })
          return { ...NodeSnapshot.parse(body), node: n.id, nodeName: n.name }
        } catch (err) {
          return { node: n.id, nodeName: n.name, name: '', manifest: null, problem: (err as Error).message }
        }
      }),
    )
    return [own, ...others].sort((a, b) => (b.manifest?.revision ?? -1) - (a.manifest?.revision ?? -1))
  }

  /** Restores snapshot `name` held by node `from` here; refuses while etcd has quorum. */
  async run(from: string, name: string): Promise<{ epoch: number; revision: number }> {
    const local = await readLocalState(this.d.stateDir)
    if (local?.status !== 'member' || !this.d.trust.isSigner)
      throw refuse('this node is not a voter of the lost cluster: recover on a surviving voter')
    const client = this.d.local.client()
    if (client && (await client.health(this.d.local.clientUrl, 3000)).healthy)
      throw refuse('etcd still has quorum here: a restore would split the cluster')
    const held = from === this.d.nodeId ? await this.ownSnapshot(name) : await this.fetch(from, name)
    const self = parseInitialCluster(local.initialCluster).find((e) => e.name === this.d.nodeId)
    if (!self) throw refuse(`the membership record does not name this node (${this.d.nodeId})`)
    this.d.log.warn({ from, snapshot: name }, 'recovering etcd from a snapshot (asked by the administrator)')
    const next = await this.d.local.restoreWith(async () => {
      const r = await restoreSnapshot({
        stateDir: this.d.stateDir,
        nodeId: this.d.nodeId,
        peerUrl: self.peerUrl,
        previous: local,
        clusterEpoch: this.d.trust.settings.etcdEpoch ?? 0,
        snapshotPath: held.path,
        nowMs: this.d.clock.nowMs(),
      })
      return r.state
    })
    const epoch = next.epoch ?? 0
    this.d.trust.setEtcdEpoch(epoch)
    return { epoch, revision: held.manifest.revision }
  }

  private async ownSnapshot(name: string) {
    const s = (await listSnapshots(this.d.stateDir)).find((x) => x.manifest.name === name)
    if (!s) throw refuse(`this node holds no snapshot ${name}`)
    const bad = await verifySnapshot(s)
    if (bad) throw refuse(bad)
    return s
  }

  /** The holder's manifest, then its file over mutual TLS, checked against the manifest's sha256. */
  private async fetch(from: string, name: string) {
    const node = this.d.nodes().find((n) => n.id === from)
    const material = this.d.material()
    if (!node || !material) throw refuse(`node ${from} is not alive in the mesh`)
    const listed = NodeSnapshot.parse(
      await this.d.peers.get({
        url: `https://${node.address}:${this.d.apiPort}/api/v1/snapshots`,
        nodeId: from,
        bodyBytesMax: 8192,
        timeoutMs: 30_000,
        what: 'snapshots',
      }),
    )
    if (!listed.manifest || listed.manifest.name !== name)
      throw refuse(`${from} no longer offers ${name} (${listed.problem ?? `newest is ${listed.name}`})`)
    const p = snapshotPaths(this.d.stateDir, name)
    const part = `${p.file}.part`
    await mkdir(dirname(part), { recursive: true, mode: 0o700 })
    await download(`https://${node.address}:${this.d.apiPort}/api/v1/snapshots/${name}`, from, material, part)
    if ((await sha256File(part)) !== listed.manifest.sha256) {
      await rm(part, { force: true })
      throw refuse(`the snapshot from ${from} does not match its sha256: try another node's`)
    }
    await rename(part, p.file)
    await writeManifest(this.d.stateDir, listed.manifest)
    return { manifest: listed.manifest, path: p.file }
  }
}

function refuse(message: string): HomecloudError {
  return new HomecloudError(
    'RECOVER_REFUSED',
    message,
    'read the status page: it says which voter may recover',
  )
}

async function download(url: string, nodeId: string, m: PeerTlsMaterial, to: string): Promise<void> {
  const agent = new Agent({ cert: m.certPem, key: m.keyPem, ca: m.caPem, rejectUnauthorized: true })
  try {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(url, {
        agent,
        checkServerIdentity: (_h, cert) =>
          cert.subject?.CN === nodeId ? undefined : new Error(`${url} answered as ${cert.subject?.CN}`),
      })
      req.setTimeout(60_000, () => req.destroy(new Error(`${url}: no answer in 60 s`)))
      req.on('response', resolve).on('error', reject).end()
    })
    if (res.statusCode !== 200) {
      res.resume()
      throw refuse(`${url}: HTTP ${res.statusCode}`)
    }
    let bytes = 0
    res.on('data', (c: Buffer) => {
      bytes += c.length
      if (bytes > snapshotBytesMax) res.destroy(new Error(`${url}: over ${snapshotBytesMax} bytes`))
    })
    await pipeline(res, createWriteStream(to, { mode: 0o600 }))
  } finally {
    agent.destroy()
  }
}
