import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { drainNode, undrainNode } from '../../control/drain/execute.js'
import { kubeApiFromKubeconfig } from '../../control/kubeapi/client.js'
import type { LockOperation } from '../../control/lock/record.js'
import { takeClusterLock } from '../../control/lock/take.js'
import type { ControlPlane } from '../controlplane/index.js'
import { HomecloudError } from '../core/errors.js'
import { kubePaths } from '../kube/paths.js'
import type { Mesh } from '../mesh/mesh.js'
import type { NodeBase } from './node.js'

// `homecloud drain|undrain NODE --api` and a node draining itself as it shuts down go
// through a voter's 7443 API: POST /api/v1/drain. The voter does the work with its admin
// kubeconfig under the cluster lock (the one lock the rollout and the CLI take too), so
// nobody runs two disruptive operations at once. The admin certificate may drain any
// node; a node's own certificate only itself.

export const DrainBody = z
  .object({
    node: z.string().min(1).max(253),
    undrain: z.boolean().default(false),
    timeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    /** Why (recorded in the drain message): e.g. "shutdown". */
    reason: z.string().max(64).optional(),
  })
  .strict()
export type DrainBody = z.infer<typeof DrainBody>

export interface DrainAnswer {
  node: string
  outcome: 'drained' | 'already-drained' | 'uncordoned' | 'left-cordoned' | 'not-cordoned'
  evicted: number
  lines: string[]
}

interface Ctx {
  n: NodeBase
  mesh: Mesh
  controlPlane: ControlPlane
  /** The cert book's revocations: a revoked node's NotReady Node refuses no drain. */
  isRevoked?: (nodeId: string) => boolean
}

const statusOf: Partial<Record<string, number>> = {
  LOCK_HELD: 409,
  LOCK_REFUSED: 409,
  DRAIN_TIMEOUT: 409,
  DRAIN_UNMANAGED_PODS: 409,
  KUBE_NODE_UNKNOWN: 404,
}

export function registerDrainRoutes(app: FastifyInstance, x: Ctx): void {
  app.post('/api/v1/drain', async (req, reply) => {
    const body = DrainBody.safeParse(req.body ?? {})
    if (!body.success)
      return reply.code(400).send({ error: 'BAD_REQUEST', message: body.error.issues[0]?.message })
    const who = callerMay(req, body.data.node, x.mesh)
    if (who !== null) return reply.code(403).send({ error: 'ADMIN_UNAUTHORIZED', message: who })
    try {
      return await runDrain(x, body.data)
    } catch (err) {
      return refuse(reply, err)
    }
  })
}

/** Null when the caller may: the admin, or the node itself. Else why not. */
export function callerMay(req: FastifyRequest, node: string, mesh: Mesh): string | null {
  const p = req.peer
  if (!p) return 'no client certificate'
  if (p.profile === 'admin') return null
  const self = mesh.peers.self()
  const name =
    p.commonName === self.id
      ? self.name
      : mesh.peers.members().find((m) => m.signed.body.id === p.commonName)?.signed.body.name
  return name === node ? null : `a node may drain only itself (${name ?? p.commonName} asked for ${node})`
}

async function runDrain(x: Ctx, b: DrainBody): Promise<DrainAnswer> {
  const etcd = x.controlPlane.local.client()
  if (!etcd)
    throw new HomecloudError('ETCD_UNREACHABLE', 'this node does not reach etcd now', 'ask another voter')
  const kube = await kubeApiFromKubeconfig(kubePaths(x.n.stateDir).adminKubeconfig)
  const lines: string[] = []
  const progress = (l: string) => {
    if (lines.length < 200) lines.push(l)
    x.n.log.info({ node: b.node, reason: b.reason }, `drain: ${l}`)
  }
  const lock = (operation: LockOperation, node: string) =>
    takeClusterLock(
      { holder: `api:${x.n.identity.id}:${b.reason ?? 'admin'}`, operation, node },
      {
        etcd,
        kube,
        clock: x.n.clock,
        log: x.n.log,
        whyGone: (id) => (x.isRevoked?.(id) ? 'revoked' : null),
      },
      { force: false, warn: progress },
    )
  if (b.undrain) {
    const u = await undrainNode(b.node, { kube, lock, progress })
    const cordoned = (await kube.getNode(b.node))?.spec?.unschedulable === true
    return {
      node: b.node,
      outcome: u.uncordoned ? 'uncordoned' : cordoned ? 'left-cordoned' : 'not-cordoned',
      evicted: 0,
      lines,
    }
  }
  try {
    const r = await drainNode(
      {
        node: b.node,
        dryRun: false,
        force: false,
        timeoutMs: b.timeoutMs,
        onTimeout: 'give-up',
        ...(b.reason ? { reason: b.reason } : {}),
      },
      { kube, lock, clock: x.n.clock, progress },
    )
    return { node: b.node, outcome: 'drained', evicted: r.evicted, lines }
  } catch (err) {
    if (err instanceof HomecloudError && err.code === 'DRAIN_ALREADY_DONE')
      return { node: b.node, outcome: 'already-drained', evicted: 0, lines }
    throw err
  }
}

function refuse(reply: FastifyReply, err: unknown) {
  if (!(err instanceof HomecloudError)) throw err
  return reply.code(statusOf[err.code] ?? 503).send({ error: err.code, message: err.message, hint: err.hint })
}
