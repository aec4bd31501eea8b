import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { TlsGuards } from '../api/tls-server.js'
import { HomecloudError } from '../core/errors.js'
import type { ReleaseAdmin } from './admin.js'
import { pieceBytesMax } from './manifest.js'
import { ReleaseKeyHex } from './signature.js'

// HTTP edges of releases. 7080 (open, read-only): GET /api/v1/releases. 7443 (mutual
// TLS, admin certificate): upload a release to this node (manifest + signature first,
// refused before anything is written unless signed by a trusted key; then each piece,
// checked against the manifest), announce it, move `current`, trust another key.

const Sha = z.string().regex(/^[0-9a-f]{64}$/, 'a release id is 64 lower-case hex characters')
const UploadBody = z
  .object({ manifest: z.string().max(2 * 1024 * 1024), sig: z.string().max(1024).nullable() })
  .strict()
const PieceParams = z.object({ id: Sha, i: z.coerce.number().int().nonnegative().max(1_000_000) })
const IdBody = z.object({ id: Sha }).strict()
const PublishBody = z.object({ current: z.boolean().default(false) }).strict()
const KeyBody = z.object({ key: ReleaseKeyHex, note: z.string().max(100).optional() }).strict()

const status: Record<string, number> = {
  RELEASE_INVALID: 400,
  RELEASE_ARCH_UNKNOWN: 400,
  RELEASE_UNSIGNED: 403,
  RELEASE_KEY_UNTRUSTED: 403,
  RELEASE_SIGNATURE_INVALID: 403,
  RELEASE_PIECE_INVALID: 400,
  RELEASE_UNKNOWN: 404,
  RELEASE_DISK_FULL: 507,
  ETCD_UNREACHABLE: 503,
  NOT_SIGNER: 409,
}

function fail(reply: FastifyReply, err: unknown) {
  if (!(err instanceof HomecloudError)) throw err
  return reply
    .code(status[err.code] ?? 500)
    .send({ error: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) })
}

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  void reply
    .code(400)
    .send({ error: 'BAD_REQUEST', message: `${issue?.path.join('.') || 'body'}: ${issue?.message}` })
  return undefined
}

export function registerReleaseReadRoutes(app: FastifyInstance, admin: ReleaseAdmin): void {
  app.get('/api/v1/releases', async () => admin.view())
}

export function registerReleaseAdminRoutes(app: FastifyInstance, admin: ReleaseAdmin, g: TlsGuards): void {
  app.get('/api/v1/releases', async () => admin.view())
  app.post(
    '/api/v1/releases',
    { preHandler: [g.adminOnly], bodyLimit: 3 * 1024 * 1024 },
    async (req, reply) => {
      const body = parse(UploadBody, req.body, reply)
      if (!body) return reply
      return admin.accept(Buffer.from(body.manifest, 'base64'), body.sig).catch((err) => fail(reply, err))
    },
  )
  app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer', bodyLimit: pieceBytesMax + 1024 },
      (_req, body, done) => done(null, body),
    )
    scope.put('/api/v1/releases/:id/pieces/:i', { preHandler: [g.adminOnly] }, async (req, reply) => {
      const p = parse(PieceParams, req.params, reply)
      if (!p) return reply
      if (!Buffer.isBuffer(req.body))
        return reply
          .code(400)
          .send({ error: 'BAD_REQUEST', message: 'send the piece as application/octet-stream' })
      return admin.piece(p.id, p.i, req.body).catch((err) => fail(reply, err))
    })
  })
  app.post('/api/v1/releases/:id/publish', { preHandler: [g.adminOnly] }, async (req, reply) => {
    const p = parse(IdBody, req.params, reply)
    const b = parse(PublishBody, req.body ?? {}, reply)
    if (!p || !b) return reply
    return admin.publish(p.id, b.current).catch((err) => fail(reply, err))
  })
  app.post('/api/v1/releases/current', { preHandler: [g.adminOnly, g.signerOnly] }, async (req, reply) => {
    const b = parse(IdBody, req.body, reply)
    if (!b) return reply
    return admin.promote(b.id, 'admin').catch((err) => fail(reply, err))
  })
  app.post('/api/v1/releases/keys', { preHandler: [g.adminOnly, g.signerOnly] }, async (req, reply) => {
    const b = parse(KeyBody, req.body, reply)
    if (!b) return reply
    return admin.trust(b.key, b.note).catch((err) => fail(reply, err))
  })
}
