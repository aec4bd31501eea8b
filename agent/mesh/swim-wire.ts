import { z } from 'zod'
import { SignedRecord } from './record.js'
import { WANT_IDS_MAX } from './swim/swim.js'

// The SWIM protocol's messages on the wire, each a frame `{t, …}` checked by its schema
// before the machine sees it. Records are the signed node records; everything else is
// ids and counters, bounded so a peer cannot make us allocate.

export const SWIM_LIMITS = {
  /** Updates in one message (a gossip page of records stays under the 64 KiB frame). */
  updatesPerMessageMax: 96,
  /** A digest page. */
  digestEntriesMax: 512,
  /** Neighbours named in an ack. */
  linksMax: 64,
} as const

const NodeId = z.string().regex(/^[0-9a-f]{20}$/)
/** Incarnations only grow by one per restart or refutation; anything near this is forged. */
const Incarnation = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 40)
const Version = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const State = z.enum(['alive', 'suspect', 'dead'])

export const SwimUpdate = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('alive'), record: SignedRecord }),
  z.object({ kind: z.literal('suspect'), id: NodeId, incarnation: Incarnation, from: NodeId }),
  z.object({ kind: z.literal('dead'), id: NodeId, incarnation: Incarnation, from: NodeId }),
  z.object({ kind: z.literal('have'), id: NodeId, incarnation: Incarnation, version: Version }),
  z.object({ kind: z.literal('member'), record: SignedRecord, state: State, incarnation: Incarnation }),
])
export type SwimUpdate = z.infer<typeof SwimUpdate>

const Gossip = z.array(SwimUpdate).max(SWIM_LIMITS.updatesPerMessageMax)

export const PingMessage = z.object({ t: z.literal('ping'), seq: Seq, target: NodeId, gossip: Gossip })
export const AckMessage = z.object({
  t: z.literal('ack'),
  seq: Seq,
  links: z.array(NodeId).max(SWIM_LIMITS.linksMax),
  gossip: Gossip,
})
export const PingReqMessage = z.object({ t: z.literal('ping-req'), seq: Seq, target: NodeId, gossip: Gossip })
export const NackMessage = z.object({ t: z.literal('nack'), seq: Seq })
export const GossipMessage = z.object({ t: z.literal('gossip'), gossip: Gossip })
export const WantMessage = z.object({ t: z.literal('want'), ids: z.array(NodeId).min(1).max(WANT_IDS_MAX) })
export const DigestMessage = z.object({
  t: z.literal('digest'),
  entries: z
    .array(z.tuple([NodeId, Incarnation, Version, State, Incarnation]))
    .max(SWIM_LIMITS.digestEntriesMax),
  reply: z.boolean(),
  last: z.boolean(),
  gossip: Gossip,
})
/** "I want (or no longer want) this link"; `full`: and I refuse it for lack of room. */
export const LinkWireMessage = z.object({ t: z.literal('link'), want: z.boolean(), full: z.boolean() })

export const SWIM_SCHEMAS = {
  ping: PingMessage,
  ack: AckMessage,
  'ping-req': PingReqMessage,
  nack: NackMessage,
  gossip: GossipMessage,
  want: WantMessage,
  digest: DigestMessage,
  link: LinkWireMessage,
} as const

export type SwimWireMessage = z.infer<(typeof SWIM_SCHEMAS)[keyof typeof SWIM_SCHEMAS]>
