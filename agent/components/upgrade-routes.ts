import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { readLock } from '../../control/lock/cluster-lock.js'
import { type LockView, lockView } from '../../control/lock/view.js'
import {
  type AdminResult,
  abortRollout,
  type PublishedTarget,
  pauseRollout,
  resumeRollout,
  startRollout,
} from '../../control/rollout/admin.js'
import type { RolloutController } from '../../control/rollout/reconciler.js'
import type { RolloutBody } from '../../control/rollout/record.js'
import { readRollout, writeRollout } from '../../control/rollout/store.js'
import type { PeerClient } from '../api/peer-client.js'
import type { TlsGuards } from '../api/tls-server.js'
import type { ControlPlane } from '../controlplane/index.js'
import { HomecloudError } from '../core/errors.js'
import type { SlotReport } from '../slots/types.js'
import type { NodeBase } from './node.js'
import { meshNodes, type RolloutDeps, tlsUrl } from './rollout-deps.js'

// `homecloud upgrade …` on 7443: start, pause, resume and abort need the admin
// certificate and a signer (the record is CA-signed); reading the rollout needs any
// member's certificate and a node that reads etcd (a voter).

const StartBody = z
  .object({
    release: z.string().min(1).max(64),
    canary: z.number().int().min(0).max(16).default(1),
    retryBad: z.boolean().default(false),
  })
  .strict()

export interface UpgradeNodeView {
  name: string
  version: string | null
  alive: boolean
  slots: SlotReport | null
  step: string | null
  outcome: string | null
}

export interface UpgradeAnswer {
  rollout: RolloutBody | null
  nodes: UpgradeNodeView[]
  /** The cluster lock: its key and the rollout's hold (absent from a voter older than it). */
  lock?: LockView
}

export interface UpgradeCtx {
  n: NodeBase
  d: RolloutDeps
  controlPlane: ControlPlane
  rollout: RolloutController | null
  peers: PeerClient
}

export function registerUpgradeRoutes(app: FastifyInstance, g: TlsGuards, x: UpgradeCtx): void {
  app.get('/api/v1/upgrade', async (_req, reply) => {
    try {
      return await upgradeView(x)
    } catch (err) {
      return refuse(reply, err)
    }
  })
  app.post('/api/v1/upgrade', { preHandler: [g.adminOnly, g.signerOnly] }, async (req, reply) => {
    const body = StartBody.safeParse(req.body ?? {})
    if (!body.success)
      return reply.code(400).send({ error: 'BAD_REQUEST', message: body.error.issues[0]?.message })
    return change(x, reply, async (prev) =>
      startRollout(prev, {
        clusterId: x.d.clusterId,
        spec: body.data.release,
        canary: body.data.canary,
        retryBad: body.data.retryBad,
        nowMs: x.n.clock.nowMs(),
        published: published(x),
        running: await running(x),
      }),
    )
  })
  for (const [verb, fn] of [
    ['pause', pauseRollout],
    ['resume', resumeRollout],
    ['abort', abortRollout],
  ] as const)
    app.post(`/api/v1/upgrade/${verb}`, { preHandler: [g.adminOnly, g.signerOnly] }, async (_req, reply) =>
      change(x, reply, async (prev) => fn(prev)),
    )
}

/** Read, decide, write with compare-and-swap (a few tries if the coordinator wrote in between). */
async function change(
  x: UpgradeCtx,
  reply: FastifyReply,
  decide: (prev: RolloutBody | null) => Promise<AdminResult>,
) {
  try {
    const etcd = x.controlPlane.local.client()
    const caPem = x.d.book.ca
    const caKeyPem = x.d.trust.caMaterial()?.keyPem
    if (!etcd || !caPem || !caKeyPem)
      return reply
        .code(503)
        .send({ error: 'NOT_SIGNER', message: 'this node does not read etcd with the CA key now' })
    for (let attempt = 0; attempt < 5; attempt++) {
      const read = await readRollout(etcd, { caPem, clusterId: x.d.clusterId }).catch(
        (err: HomecloudError) =>
          err.code === 'ROLLOUT_RECORD_INVALID' ? { body: null, modRevision: -1 } : Promise.reject(err),
      )
      const r = await decide(read.body)
      if (!r.ok)
        return reply
          .code(r.code === 'RELEASE_UNKNOWN' ? 404 : 409)
          .send({ error: r.code, message: r.message, hint: r.hint })
      // An unreadable record is replaced: the next write compares on its current revision.
      const at =
        read.modRevision === -1
          ? { modRevision: (await etcd.get('/homecloud/rollout'))?.modRevision ?? 0 }
          : read
      if ((await writeRollout(etcd, at, r.body, caKeyPem)).ok) {
        x.n.log.info({ phase: r.body.phase, target: r.body.target?.version }, 'rollout changed by the admin')
        x.rollout?.poke()
        return { rollout: r.body }
      }
    }
    return reply
      .code(409)
      .send({ error: 'ROLLOUT_REFUSED', message: 'the rollout record kept changing; try again' })
  } catch (err) {
    return refuse(reply, err)
  }
}

function refuse(reply: FastifyReply, err: unknown) {
  if (!(err instanceof HomecloudError)) throw err
  // 409: this node cannot answer (no etcd view here); the CLI asks the next node.
  const code = err.code === 'ROLLOUT_RECORD_INVALID' ? 502 : 409
  return reply.code(code).send({ error: err.code, message: err.message, hint: err.hint })
}

function published(x: UpgradeCtx): PublishedTarget[] {
  const r = x.d.releases()
  if (!r) return []
  return [...r.service.records.published.values()].map((p) => ({
    id: p.release.id,
    version: p.release.manifest.version,
    arch: p.release.manifest.arch,
    publishedAtMs: p.publishedAtMs,
    ...(p.release.manifest.etcd ? { etcd: p.release.manifest.etcd } : {}),
    ...(p.release.manifest.kubernetes ? { kubernetes: p.release.manifest.kubernetes } : {}),
  }))
}

/** What runs now: etcd's cluster version, and the Kubernetes version of the current release. */
async function running(x: UpgradeCtx): Promise<{ etcd?: string; kubernetes?: string }> {
  const etcd = x.controlPlane.local.client()
  const v = await etcd?.version(x.controlPlane.local.clientUrl, 2000).catch(() => null)
  const r = x.d.releases()
  const cur = r?.service.records.current?.archs
  const kube = Object.values(cur ?? {})
    .map((c) => (c ? r?.service.records.published.get(c.id)?.release.manifest.kubernetes : undefined))
    .find(Boolean)
  return { ...(v ? { etcd: v.cluster } : {}), ...(kube ? { kubernetes: kube } : {}) }
}

export async function upgradeView(x: UpgradeCtx): Promise<UpgradeAnswer> {
  const etcd = x.controlPlane.local.client()
  const caPem = x.d.book.ca
  if (!etcd || !caPem)
    throw new HomecloudError(
      'ETCD_UNREACHABLE',
      'this node does not read etcd now',
      'ask a control-plane node',
    )
  const { body } = await readRollout(etcd, { caPem, clusterId: x.d.clusterId })
  const key = await readLock(etcd)
  const cur = body?.current
  const lock = lockView(
    key ? (key.record ?? 'unreadable') : undefined,
    cur ? { node: cur.name, step: cur.step, sinceMs: cur.startedAtMs } : null,
    x.n.clock.nowMs(),
  )
  // No rollout: nothing to say about the nodes' slots (and no 7443 round to every node).
  if (!body) return { rollout: null, nodes: [], lock }
  // A netbooted machine booted again is listed once, under its new id (agent/mesh/successors.ts).
  const mesh = meshNodes(x.d.mesh)
  const nodes = await Promise.all(
    mesh.map(async (b) => {
      const alive = b.alive
      const ids = [b.id, ...(b.formerIds ?? [])]
      const current = body?.current && ids.includes(body.current.node) ? body.current : null
      const outcome = ids.map((id) => body?.nodes[id]).find(Boolean)
      const slots =
        alive && b.address
          ? await x.peers
              .get({
                url: `${tlsUrl(b)}/api/v1/slots`,
                nodeId: b.id,
                bodyBytesMax: 64 * 1024,
                timeoutMs: 3000,
                what: 'slots',
              })
              .then((a) => (a as { slots: SlotReport | null }).slots)
              .catch(() => null)
          : null
      return {
        name: b.name,
        version: b.version,
        alive,
        slots,
        step: current ? current.step : null,
        outcome: outcome ? `${outcome.state}: ${outcome.detail}` : null,
      }
    }),
  )
  // Nodes the mesh no longer lists (revoked: expelled) keep their outcome in the view.
  const listed = new Set(mesh.flatMap((b) => [b.id, ...(b.formerIds ?? [])]))
  const gone = Object.entries(body.nodes)
    .filter(([id]) => !listed.has(id))
    .map(([, o]) => ({
      name: o.name,
      version: null,
      alive: false,
      slots: null,
      step: null,
      outcome: `${o.state}: ${o.detail}`,
    }))
  return { rollout: body, nodes: [...nodes, ...gone].sort((a, b) => (a.name < b.name ? -1 : 1)), lock }
}
