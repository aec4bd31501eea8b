import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { HOLDERS_PREFIX, MANIFEST_PREFIX } from '../../control/releases/records.js'
import type { EtcdClient } from '../etcd/client.js'
import type { ReleaseRecords } from './records-client.js'
import { verifyPublished } from './records-client.js'
import { AnnounceBody, kvToWire, relayable } from './records-relay.js'

// The voter's side of records-relay.ts on 7443: reads of release records, and each
// node's own holders record (its key from the caller's agent certificate, never from the
// request), and announcements of releases uploaded to them (checked here: signed by a
// trusted release key, the caller its origin), for nodes etcd no longer lets in.

const ReadQuery = z
  .object({
    key: z.string().max(512).optional(),
    prefix: z.string().max(512).optional(),
    rev: z.coerce.number().int().positive().optional(),
  })
  .strict()
  .refine((q) => (q.key === undefined) !== (q.prefix === undefined), 'give key or prefix')
const HoldersBody = z.object({ value: z.string().max(256 * 1024) }).strict()

export function registerRelayRoutes(
  app: FastifyInstance,
  memberEtcd: () => EtcdClient | null,
  records: ReleaseRecords,
): void {
  const bad = (message: string) => ({ error: 'BAD_REQUEST', message })
  const notMember = {
    error: 'ETCD_UNREACHABLE',
    message: 'this node is no etcd member now: ask another voter',
  }
  app.get('/api/v1/releases/etcd', async (req, reply) => {
    const q = ReadQuery.safeParse(req.query)
    if (!q.success) return reply.code(400).send(bad(q.error.issues[0]?.message ?? 'bad query'))
    const key = q.data.key ?? q.data.prefix ?? ''
    if (!relayable(key, q.data.key !== undefined))
      return reply.code(403).send(bad('only release records are relayed'))
    const etcd = memberEtcd()
    if (!etcd) return reply.code(503).send(notMember)
    const kvs = q.data.key
      ? [await etcd.get(key, q.data.rev ? { revision: q.data.rev } : {})].filter((kv) => kv !== undefined)
      : await etcd.getPrefix(key)
    return { kvs: kvs.map(kvToWire) }
  })
  app.post('/api/v1/releases/holders', { bodyLimit: 300 * 1024 }, async (req, reply) => {
    if (req.peer?.profile !== 'agent')
      return reply
        .code(403)
        .send({ error: 'ADMIN_UNAUTHORIZED', message: 'only a node writes its holders record' })
    const b = HoldersBody.safeParse(req.body)
    if (!b.success) return reply.code(400).send(bad(b.error.issues[0]?.message ?? 'bad body'))
    const etcd = memberEtcd()
    if (!etcd) return reply.code(503).send(notMember)
    // Readers check the record's signature against the node's identity key (records-client.ts).
    await etcd.put(`${HOLDERS_PREFIX}${req.peer.commonName}`, b.data.value)
    return { kvs: [] }
  })
  app.post('/api/v1/releases/announce', { bodyLimit: 4 * 1024 * 1024 }, async (req, reply) => {
    if (req.peer?.profile !== 'agent')
      return reply
        .code(403)
        .send({ error: 'ADMIN_UNAUTHORIZED', message: 'only a node announces a release it holds' })
    const b = AnnounceBody.safeParse(req.body)
    if (!b.success) return reply.code(400).send(bad(b.error.issues[0]?.message ?? 'bad body'))
    const etcd = memberEtcd()
    if (!etcd) return reply.code(503).send(notMember)
    await records.refresh(etcd)
    const id = b.data.key.slice(MANIFEST_PREFIX.length)
    const v = verifyPublished(id, b.data.value, records.trusted())
    if (!v.ok) return reply.code(400).send({ error: 'RELEASE_SIGNATURE_INVALID', message: v.error })
    // The holders record and the spreading name the origin: a node announces only what it holds.
    if (v.entry.origin !== req.peer.commonName)
      return reply
        .code(403)
        .send({ error: 'ADMIN_UNAUTHORIZED', message: 'a node announces only releases uploaded to itself' })
    return { created: await etcd.createIfAbsent(b.data.key, b.data.value) }
  })
}
