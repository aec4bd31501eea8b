import { parseWith } from './router.js'
import { SWIM_SCHEMAS, type SwimWireMessage } from './swim-wire.js'
import { DeadMessage, type MeshMessage, RecMessage, RelayMessage, SuspectMessage } from './wire.js'

export type DropReason =
  | 'malformed'
  | 'oversized'
  | 'bad-signature'
  | 'stale'
  | 'other-cluster'
  | 'impersonation'
  | 'dead-incarnation'
  | 'table-full'
  | 'not-member'
  | 'uncertified'
  | 'revoked'

/** The membership protocol's messages: SWIM's, and the full mesh's still understood. */
export type MembershipMessage = MeshMessage | SwimWireMessage

export type Parsed = { ok: true; msg: MembershipMessage } | { ok: false; reason: 'malformed'; detail: string }

const MESH_SCHEMAS = new Map<string, { schema: import('zod').ZodType<MembershipMessage> }>([
  ['rec', { schema: RecMessage }],
  ['relay', { schema: RelayMessage }],
  ['suspect', { schema: SuspectMessage }],
  ['dead', { schema: DeadMessage }],
  ...Object.entries(SWIM_SCHEMAS).map(
    ([t, schema]) => [t, { schema }] as [string, { schema: import('zod').ZodType<MembershipMessage> }],
  ),
])

/** Bytes → one of the membership protocol's own messages, or why not (the field that broke). */
export function parseMessage(payload: Buffer): Parsed {
  const r = parseWith(MESH_SCHEMAS, payload)
  return r.ok ? { ok: true, msg: r.msg as MembershipMessage } : r
}
