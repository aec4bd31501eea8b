import { z } from 'zod'
import { signCaRecord, verifyCaRecord } from '../../control/releases/records.js'
import { Sha256Hex } from '../core/ids.js'

// What the rollout tells a node to do with its boot slots. An order is signed with the
// cluster CA key (only signers hold it: the coordinator among them), names the node it
// is for and carries a sequence number that only grows (the rollout record's version
// when the order was sent): a node acts on an order only if it verifies, is for it, and
// is newer than the last it took; the same order again is answered, not redone; an
// older one (a replay) is refused. So any member may carry the order over 7443, and
// none can make another node install, reboot or commit.

export const SlotOrderAction = z.enum(['install', 'try', 'reboot', 'commit', 'fallback'])
export type SlotOrderAction = z.infer<typeof SlotOrderAction>

export const SlotOrderBody = z
  .object({
    v: z.literal(1),
    clusterId: z.string().min(1).max(64),
    /** The sequence number (field name shared with the other CA records' replay check). */
    version: z.number().int().positive(),
    node: z.string().min(1).max(64),
    action: SlotOrderAction,
    release: z
      .object({ id: Sha256Hex, version: z.string().min(1).max(64) })
      .strict()
      .optional(),
    tries: z.number().int().min(1).max(10).optional(),
    issuedAtMs: z.number().int().nonnegative(),
  })
  .strict()
export type SlotOrderBody = z.infer<typeof SlotOrderBody>

export const orderBytesMax = 8 * 1024

export function signSlotOrder(body: SlotOrderBody, caKeyPem: string): string {
  return signCaRecord('slot-order', SlotOrderBody.parse(body), caKeyPem)
}

export type OrderCheck =
  | { ok: true; body: SlotOrderBody; repeat: boolean }
  | { ok: false; status: 400 | 403 | 409; error: string }

/** Verifies an order for this node against the last sequence number it took (pure). */
export function checkSlotOrder(
  text: string,
  ctx: { caPem: string; clusterId: string; nodeId: string; lastSeq: number },
): OrderCheck {
  if (text.length > orderBytesMax)
    return { ok: false, status: 400, error: `an order is at most ${orderBytesMax} bytes` }
  const v = verifyCaRecord('slot-order', text, SlotOrderBody, { caPem: ctx.caPem, clusterId: ctx.clusterId })
  if (!v.ok) return { ok: false, status: 403, error: v.error }
  if (v.body.node !== ctx.nodeId)
    return { ok: false, status: 403, error: `the order is for ${v.body.node}, not this node` }
  if (v.body.version < ctx.lastSeq)
    return {
      ok: false,
      status: 409,
      error: `order ${v.body.version} is older than order ${ctx.lastSeq} already taken (a replay)`,
    }
  return { ok: true, body: v.body, repeat: v.body.version === ctx.lastSeq }
}
