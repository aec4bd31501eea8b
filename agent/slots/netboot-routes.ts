import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { Mac } from '../netboot/mac.js'
import { BootId, netbootSlotsKey } from './netboot-decide.js'
import { applyBoot, applyChange, ChangeBody, parseRecord, type SlotRecordsEtcd } from './netboot-store.js'
import { checkSlotOrder } from './order.js'

// A voter's side of netboot slots on 7443 (agent certificates only): a serving worker asks
// it what to offer a booting MAC (the voter decides and compare-and-swaps on its etcd), and
// a netbooted agent brings its CA-signed slot orders, which the voter checks itself: the
// order must verify, be for the calling node (its certificate's name), the MAC must be one
// its signed mesh record names, and the order newer than the last one the MAC's record took. The record is then changed only through tries.ts.

export interface NetbootSlotsRoutesDeps {
  memberEtcd(): SlotRecordsEtcd | null
  caPem(): string | null
  clusterId: string
  clock: Pick<Clock, 'nowMs'>
  /**
   * The MACs a node's signed mesh record names (null: no record of it here yet). A change
   * is taken only for a MAC of the calling node: no member can move another machine's slot.
   */
  macsOf(nodeId: string): readonly string[] | null
}

const ReadQuery = z.object({ mac: Mac }).strict()
const BootBody = z
  .object({
    mac: Mac,
    arch: z.enum(['amd64', 'arm64']),
    bootId: BootId.nullable(),
    holds: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(4),
  })
  .strict()

export function registerNetbootSlotsRoutes(app: FastifyInstance, d: NetbootSlotsRoutesDeps): void {
  const refuse = (reply: FastifyReply, status: number, error: string, message: string) =>
    reply.code(status).send({ error, message })
  const etcdOr503 = (reply: FastifyReply) => {
    const etcd = d.memberEtcd()
    if (!etcd) refuse(reply, 503, 'ETCD_UNREACHABLE', 'this node is no etcd member now: ask another voter')
    return etcd
  }
  const agentOnly = (req: { peer?: { profile: string } }, reply: FastifyReply) => {
    if (req.peer?.profile === 'agent') return true
    refuse(reply, 403, 'ADMIN_UNAUTHORIZED', 'only nodes keep netboot slots')
    return false
  }
  app.get('/api/v1/netboot-slots/read', async (req, reply) => {
    if (!agentOnly(req, reply)) return reply
    const q = ReadQuery.safeParse(req.query)
    if (!q.success) return refuse(reply, 400, 'BAD_REQUEST', q.error.issues[0]?.message ?? 'bad query')
    const etcd = etcdOr503(reply)
    if (!etcd) return reply
    return { record: parseRecord(await etcd.get(netbootSlotsKey(q.data.mac))) }
  })
  app.post('/api/v1/netboot-slots/boot', { bodyLimit: 4096 }, async (req, reply) => {
    if (!agentOnly(req, reply)) return reply
    const b = BootBody.safeParse(req.body)
    if (!b.success) return refuse(reply, 400, 'BAD_REQUEST', b.error.issues[0]?.message ?? 'bad body')
    const etcd = etcdOr503(reply)
    if (!etcd) return reply
    const { mac, ...ask } = b.data
    return applyBoot(etcd, mac, ask, d.clock.nowMs())
  })
  app.post('/api/v1/netboot-slots/change', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    if (!agentOnly(req, reply)) return reply
    const b = ChangeBody.safeParse(req.body)
    const mac = Mac.safeParse(b.data?.mac)
    if (!b.success || !mac.success)
      return refuse(reply, 400, 'BAD_REQUEST', (b.error ?? mac.error)?.issues[0]?.message ?? 'bad body')
    const caPem = d.caPem()
    if (!caPem) return refuse(reply, 503, 'NOT_READY', 'this node holds no CA certificate yet')
    const caller = (req as { peer?: { commonName: string } }).peer?.commonName ?? ''
    // The record's own sequence check refuses replays; here only signature, cluster and node.
    const check = checkSlotOrder(b.data.order, { caPem, clusterId: d.clusterId, nodeId: caller, lastSeq: 0 })
    if (!check.ok) return refuse(reply, check.status, 'SLOT_REFUSED', check.error)
    const macs = d.macsOf(caller)
    if (!macs) return refuse(reply, 503, 'NOT_READY', `no mesh record of ${caller} here yet: ask again`)
    if (!macs.includes(mac.data))
      return refuse(
        reply,
        403,
        'SLOT_REFUSED',
        `${mac.data} is not a MAC of ${caller} (its mesh record names ${macs.join(', ') || 'none'}): a node changes only its own netboot slots`,
      )
    const etcd = etcdOr503(reply)
    if (!etcd) return reply
    try {
      const req2 = { mac: mac.data, arch: b.data.arch, order: check.body, running: b.data.running }
      return { record: await applyChange(etcd, req2, d.clock.nowMs()) }
    } catch (err) {
      const status = (err as { status?: number }).status
      if (err instanceof HomecloudError && status) return refuse(reply, status, err.code, err.message)
      throw err
    }
  })
}
