import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { TlsGuards } from '../api/tls-server.js'
import { HomecloudError } from '../core/errors.js'
import { newestIntact, type Recovery } from './recovery.js'
import { listSnapshots, SnapshotName, snapshotPaths } from './snapshot-store.js'

// Recovery on the agent API (7443, mutual TLS): every node offers its newest intact
// snapshot (any member's or the admin's certificate may read it, since a recovering voter
// fetches it with its agent certificate), and the admin certificate may ask a surviving
// voter to recover (what `homecloud recover` does while the agent runs).

const NameParams = z.object({ name: SnapshotName }).strict()
export const RecoverBody = z.object({ node: z.string().min(1).max(64), name: SnapshotName }).strict()

export function recoverFailure(reply: FastifyReply, err: unknown) {
  if (!(err instanceof HomecloudError)) throw err
  const code = err.code === 'RECOVER_REFUSED' ? 409 : 500
  return reply
    .code(code)
    .send({ error: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) })
}

export function registerRecoveryRoutes(
  app: FastifyInstance,
  g: TlsGuards,
  d: { stateDir: string; nodeId: string; recovery: Recovery | null },
): void {
  app.get('/api/v1/snapshots', async () => newestIntact(d.stateDir, d.nodeId))
  app.get('/api/v1/snapshots/:name', async (req, reply) => {
    const p = NameParams.safeParse(req.params)
    if (!p.success) return reply.code(400).send({ error: 'BAD_REQUEST', message: 'not a snapshot name' })
    const held = (await listSnapshots(d.stateDir)).find((s) => s.manifest.name === p.data.name)
    if (!held) return reply.code(404).send({ error: 'NOT_FOUND', message: `no snapshot ${p.data.name} here` })
    const file = snapshotPaths(d.stateDir, p.data.name).file
    const size = (await stat(file)).size
    return reply.type('application/octet-stream').header('content-length', size).send(createReadStream(file))
  })
  app.get('/api/v1/recovery', { preHandler: [g.adminOnly] }, async (_req, reply) => {
    if (!d.recovery)
      return reply.code(409).send({ error: 'RECOVER_REFUSED', message: 'no control plane here' })
    return { snapshots: await d.recovery.list() }
  })
  app.post('/api/v1/recover', { preHandler: [g.adminOnly] }, async (req, reply) => {
    const b = RecoverBody.safeParse(req.body)
    if (!b.success) return reply.code(400).send({ error: 'BAD_REQUEST', message: b.error.issues[0]?.message })
    if (!d.recovery)
      return reply.code(409).send({ error: 'RECOVER_REFUSED', message: 'no control plane here' })
    return d.recovery.run(b.data.node, b.data.name).catch((err) => recoverFailure(reply, err))
  })
}
