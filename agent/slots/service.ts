import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import type { Logger } from '../core/log.js'
import type { Release } from '../release/manifest.js'
import { AGENT_VERSION } from '../version.js'
import { checkSlotOrder, orderBytesMax, type SlotOrderBody } from './order.js'
import type { BootSlots, SlotReport } from './types.js'

// This node's boot slots as the cluster sees them: GET /api/v1/slots (any member's
// certificate, over 7443) answers the slot report; POST /api/v1/slots/order takes a
// CA-signed order for this node (order.ts says why that is enough) and acts on it with
// the node's backend. A reboot happens after the answer has gone out.

export interface SlotsAnswer {
  node: string
  version: string
  slots: SlotReport | null
  /** Why there is no report (no boot slots here, or the backend failed). */
  reason: string | null
  /** This node has no boot slots at all (not a failure): a rollout passes it by. */
  noSlots?: true
}

export interface SlotsServiceDeps {
  nodeId: string
  clusterId: string
  stateDir: string
  backend: BootSlots | null
  caPem(): string | null
  /** A release complete in this node's store, or why not. */
  release(id: string): { release: Release; dir: string } | { missing: string }
  clock: Clock
  log: Logger
}

const LastOrder = z.object({ seq: z.number().int().nonnegative() }).strict()

export class SlotsService {
  private lastSeq: number | null = null

  constructor(private readonly d: SlotsServiceDeps) {}

  private get lastFile(): string {
    return join(this.d.stateDir, 'slots', 'last-order.json')
  }

  async answer(): Promise<SlotsAnswer> {
    const base = { node: this.d.nodeId, version: AGENT_VERSION }
    if (!this.d.backend)
      return {
        ...base,
        slots: null,
        reason: 'this node has no boot slots (it cannot be upgraded in place)',
        noSlots: true,
      }
    try {
      return { ...base, slots: await this.d.backend.report(), reason: null }
    } catch (err) {
      return { ...base, slots: null, reason: (err as Error).message }
    }
  }

  /** Verifies an order and acts on it; throws HomecloudError with a status for refusals. */
  async order(text: string): Promise<SlotsAnswer> {
    const backend = this.d.backend
    if (!backend) throw refusal(409, 'SLOT_REFUSED', 'this node has no boot slots')
    const caPem = this.d.caPem()
    if (!caPem) throw refusal(503, 'NOT_READY', 'this node holds no certificate yet')
    const lastSeq = await this.readLastSeq()
    const check = checkSlotOrder(text, { caPem, clusterId: this.d.clusterId, nodeId: this.d.nodeId, lastSeq })
    if (!check.ok) throw refusal(check.status, 'SLOT_REFUSED', check.error)
    if (!check.repeat) {
      this.d.log.info(
        { order: check.body.version, action: check.body.action, release: check.body.release?.version },
        'slot order',
      )
      backend.takeOrder?.(text)
      await this.act(backend, check.body)
      await this.writeLastSeq(check.body.version)
    }
    return this.answer()
  }

  private async act(backend: BootSlots, o: SlotOrderBody): Promise<void> {
    const r = await backend.report()
    switch (o.action) {
      case 'install': {
        if (!o.release) throw refusal(400, 'SLOT_REFUSED', 'an install order names a release')
        const id = o.release.id
        if (
          (['a', 'b'] as const).some(
            (x) => x !== r.good && x !== r.booted && r.installed[x]?.releaseId === id,
          )
        )
          return
        if (backend.installOrdered) {
          await backend.installOrdered()
          return
        }
        const held = this.d.release(id)
        if ('missing' in held) throw refusal(409, 'SLOT_REFUSED', held.missing)
        await backend.install(held)
        return
      }
      case 'try':
        if (r.trying && r.booted !== r.trying) return
        await backend.tryNext(o.tries ?? 3)
        return
      case 'reboot':
        // Only into a slot being tried that is not running yet: a repeated order never reboots twice.
        if (r.trying && r.booted !== r.trying) this.rebootSoon(backend)
        return
      case 'commit':
        await backend.markGood()
        return
      case 'fallback':
        await backend.fallBack()
        return
    }
  }

  /** After the answer is on its way. */
  private rebootSoon(backend: BootSlots): void {
    this.d.clock.setTimeout(() => {
      void backend.reboot().catch((err) => this.d.log.error({ err: (err as Error).message }, 'reboot failed'))
    }, 300)
  }

  private async readLastSeq(): Promise<number> {
    if (this.lastSeq !== null) return this.lastSeq
    const f = await readJsonFile(this.lastFile, LastOrder, {
      code: 'SLOT_FAILED',
      what: 'the last slot order taken',
      hint: 'remove it: the next order is taken',
    }).catch(() => null)
    this.lastSeq = f?.seq ?? 0
    return this.lastSeq
  }

  private async writeLastSeq(seq: number): Promise<void> {
    this.lastSeq = seq
    await writeFileAtomic(this.lastFile, JSON.stringify({ seq }), 0o600)
  }

  /** On 7443: the report for any member, orders checked by their CA signature. */
  register(app: FastifyInstance): void {
    app.get('/api/v1/slots', async () => this.answer())
    app.post('/api/v1/slots/order', { bodyLimit: orderBytesMax }, async (req, reply) => {
      const text = typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? null)
      try {
        return await this.order(text)
      } catch (err) {
        if (err instanceof HomecloudError) {
          const status = (err as HomecloudError & { status?: number }).status ?? 500
          return reply.code(status).send({ error: err.code, message: err.message })
        }
        throw err
      }
    })
  }
}

function refusal(status: number, code: 'SLOT_REFUSED' | 'NOT_READY', message: string): HomecloudError {
  const e = new HomecloudError(
    code === 'NOT_READY' ? 'SLOT_REFUSED' : code,
    message,
    'see `homecloud upgrade status`',
  )
  return Object.assign(e, { status })
}
