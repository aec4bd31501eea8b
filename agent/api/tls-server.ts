import type { TLSSocket } from 'node:tls'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { checkPeer, type PeerCheck, tlsMinVersion } from '../pki/tls.js'
import { type JoinPolicy, StateDiskPolicy } from '../state/cluster-file.js'
import type { StatsAnswer } from '../stats/schema.js'
import type { ControlPlaneAnswer } from './control-plane-source.js'
import { installErrorHandlers } from './error-handlers.js'

export interface TlsApiDeps {
  log: Logger
  counters: Counters
  nowMs: () => number
  caPem: () => string | null
  revokedSerials: () => Set<string>
  /** A revoked node is refused whatever certificate of it is shown (an older one too). */
  isRevoked: (nodeId: string) => boolean
  isSigner: () => boolean
  approve: (node: string) => { id: string; name: string } | null
  /** Resolves a member by name or id, then revokes it; null when unknown. */
  revoke: (node: string, reason: string) => { id: string; name: string } | null
  setJoinPolicy: (p: JoinPolicy) => void
  /** Netbooted machines' state-disk policy (written on their kernel command lines). */
  setStateDiskPolicy: (p: z.infer<typeof StateDiskPolicy>) => void
  clusterView: () => unknown
  /** More routes (releases), given the same admin and signer guards. */
  register?: (app: FastifyInstance, guards: TlsGuards) => void
  /** This node's own etcd view (and the Kubernetes Nodes it reads), or null: not a voter that reads etcd. */
  controlPlane?: () => ControlPlaneAnswer | null
  /** This node's readings newer than `sinceMs`, for other nodes' status pages. */
  stats?: (sinceMs: number) => StatsAnswer
}

export interface TlsGuards {
  adminOnly: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>
  signerOnly: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>
}

const SinceQuery = z.object({ since: z.coerce.number().int().nonnegative().default(0) })

const NodeBody = z
  .object({ node: z.string().min(1).max(64), reason: z.string().max(200).optional() })
  .strict()
const SettingsBody = z
  .object({ joinPolicy: z.enum(['auto', 'approve']).optional(), stateDiskPolicy: StateDiskPolicy.optional() })
  .strict()
  .refine((b) => b.joinPolicy !== undefined || b.stateDiskPolicy !== undefined, 'name a setting to change')

declare module 'fastify' {
  interface FastifyRequest {
    peer?: Extract<PeerCheck, { ok: true }>
  }
}

/**
 * The agent API on 7443: mutual TLS with certificates of the cluster CA. Node checks
 * the chain in the handshake; we check validity, revocation and profile per request,
 * and only the admin certificate may act.
 */
export function buildTlsApi(
  deps: TlsApiDeps,
  material: { certPem: string; keyPem: string; caPem: string },
): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    https: {
      key: material.keyPem,
      cert: material.certPem,
      ca: material.caPem,
      requestCert: true,
      // Checked per request below, so a bad certificate gets a clear 401, not a reset.
      rejectUnauthorized: false,
      minVersion: tlsMinVersion,
    },
  })
  app.addHook('onRequest', peerGate(deps))
  app.get('/api/v1/whoami', async (req) => ({
    commonName: req.peer!.commonName,
    profile: req.peer!.profile,
    serial: req.peer!.serial,
  }))
  app.get('/api/v1/cluster', async () => deps.clusterView())
  registerPeerReads(app, deps)
  const guards = registerAdminActions(app, deps)
  deps.register?.(app, guards)
  installErrorHandlers(app, deps.log, 'tls api')
  return app
}

/** For other nodes' status pages (any member's certificate): the same truth everywhere. */
function registerPeerReads(app: FastifyInstance, deps: TlsApiDeps): void {
  app.get('/api/v1/control-plane', async (_req, reply) => {
    const answer = deps.controlPlane?.() ?? null
    if (!answer)
      return reply.code(503).send({
        error: 'NO_ETCD_VIEW',
        message: 'this node does not read etcd itself now: ask another voter',
      })
    return answer
  })
  app.get('/api/v1/stats', async (req, reply) => {
    const q = SinceQuery.safeParse(req.query)
    if (!q.success)
      return reply
        .code(400)
        .send({ error: 'BAD_REQUEST', message: `since: ${q.error.issues[0]?.message ?? 'invalid'}` })
    if (!deps.stats) return reply.code(503).send({ error: 'NOT_READY', message: 'no readings here yet' })
    return deps.stats(q.data.since)
  })
}

/** Every request: a certificate of the cluster CA, valid, not revoked, of an admin or agent. */
function peerGate(deps: TlsApiDeps) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const ca = deps.caPem()
    if (!ca)
      return reply.code(503).send({ error: 'NOT_READY', message: 'this node holds no certificate yet' })
    const check = checkPeer(req.raw.socket as TLSSocket, {
      caPem: ca,
      nowMs: deps.nowMs(),
      revoked: deps.revokedSerials(),
      profiles: ['admin', 'agent'],
    })
    const revokedNode = check.ok && check.profile === 'agent' && deps.isRevoked(check.commonName)
    if (!check.ok || revokedNode) {
      const reason = check.ok ? 'revoked' : check.reason
      deps.counters.inc('homecloud_api_rejected_total', { reason })
      return reply.code(401).send({
        error: 'ADMIN_UNAUTHORIZED',
        reason,
        message: `client certificate refused: ${reason}`,
      })
    }
    req.peer = check
  }
}

/** The admin's actions (approve, revoke, settings), on a node holding the CA key. */
function registerAdminActions(app: FastifyInstance, deps: TlsApiDeps) {
  const adminOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.peer?.profile !== 'admin') {
      return reply
        .code(403)
        .send({ error: 'ADMIN_UNAUTHORIZED', message: 'this action needs the admin certificate' })
    }
  }
  const signerOnly = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!deps.isSigner()) {
      return reply
        .code(409)
        .send({ error: 'NOT_SIGNER', message: 'this node does not hold the CA key; ask the founder' })
    }
  }
  const parse = <T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined => {
    const r = schema.safeParse(body)
    if (r.success) return r.data
    const issue = r.error.issues[0]
    void reply
      .code(400)
      .send({ error: 'BAD_REQUEST', message: `${issue?.path.join('.') || 'body'}: ${issue?.message}` })
    return undefined
  }

  app.post('/api/v1/approve', { preHandler: [adminOnly, signerOnly] }, async (req, reply) => {
    const body = parse(NodeBody, req.body, reply)
    if (!body) return reply
    const entry = deps.approve(body.node)
    if (!entry)
      return reply.code(404).send({ error: 'NODE_UNKNOWN', message: `no pending node "${body.node}"` })
    deps.log.info({ node: entry.id, name: entry.name, by: req.peer!.commonName }, 'join approved')
    return { approved: entry }
  })
  app.post('/api/v1/revoke', { preHandler: [adminOnly, signerOnly] }, async (req, reply) => {
    const body = parse(NodeBody, req.body, reply)
    if (!body) return reply
    const entry = deps.revoke(body.node, body.reason ?? 'revoked by the administrator')
    if (!entry) return reply.code(404).send({ error: 'NODE_UNKNOWN', message: `no member "${body.node}"` })
    deps.log.warn({ node: entry.id, name: entry.name, by: req.peer!.commonName }, 'node revoked')
    return { revoked: entry }
  })
  app.post('/api/v1/settings', { preHandler: [adminOnly, signerOnly] }, async (req, reply) => {
    const body = parse(SettingsBody, req.body, reply)
    if (!body) return reply
    if (body.joinPolicy) deps.setJoinPolicy(body.joinPolicy)
    if (body.stateDiskPolicy) deps.setStateDiskPolicy(body.stateDiskPolicy)
    return body
  })
  return { adminOnly, signerOnly }
}
