import { z } from 'zod'
import type { PeerClient } from '../api/peer-client.js'
import { HomecloudError } from '../core/errors.js'
import type { EtcdClient } from '../etcd/client.js'
import type { KeyValue } from '../etcd/model/types.js'
import {
  type BootDecision,
  type BootRequest,
  type ChangeRequest,
  decideNetbootBoot,
  decideNetbootChange,
  NetbootSlotRecord,
  netbootSlotsKey,
} from './netboot-decide.js'

// The shell around netboot-decide.ts: read a MAC's record, decide, compare-and-swap the
// result on the record's mod revision, and decide again when another node wrote first (so
// two serving nodes racing on one boot count it once). A voter does this on its own etcd;
// a worker (no etcd member) asks a voter over 7443 (netboot-routes.ts), as the release
// records relay does.

export type SlotRecordsEtcd = Pick<EtcdClient, 'get' | 'txn'>

/** Compare-and-swap rounds before giving up (each lost round means another node wrote). */
export const casRoundsMax = 8

export interface BootAsk {
  arch: BootRequest['arch']
  bootId: string | null
  /** Release ids the asking node holds whole (the ones it can serve). */
  holds: string[]
}

/** A record from etcd, or null; a record that does not parse is reported, not guessed at. */
export function parseRecord(kv: KeyValue | undefined): NetbootSlotRecord | null {
  if (!kv) return null
  let raw: unknown
  try {
    raw = JSON.parse(kv.value)
  } catch {
    raw = null
  }
  const r = NetbootSlotRecord.safeParse(raw)
  if (!r.success)
    throw new HomecloudError(
      'SLOT_FAILED',
      `the netboot slot record ${kv.key} does not parse`,
      'delete it (etcdctl del KEY): the machine then boots the current release',
    )
  return r.data
}

async function casLoop<T>(
  etcd: SlotRecordsEtcd,
  key: string,
  decide: (rec: NetbootSlotRecord | null) => { write: NetbootSlotRecord | null; result: T },
): Promise<T> {
  for (let round = 0; round < casRoundsMax; round++) {
    const kv = await etcd.get(key)
    const { write, result } = decide(parseRecord(kv))
    if (!write) return result
    const r = await etcd.txn({
      compare: [
        kv
          ? { key, target: 'mod_revision', op: 'equal', value: kv.modRevision }
          : { key, target: 'create_revision', op: 'equal', value: 0 },
      ],
      success: [{ put: { key, value: JSON.stringify(write) } }],
    })
    if (r.succeeded) return result
  }
  throw new HomecloudError(
    'SLOT_FAILED',
    `the netboot slot record ${key} changed ${casRoundsMax} times while being written`,
    'ask again',
  )
}

/** A boot request on a member's etcd: the decision, after its record is written. */
export function applyBoot(etcd: SlotRecordsEtcd, mac: string, ask: BootAsk, nowMs: number) {
  const holds = new Set(ask.holds)
  const req: BootRequest = { arch: ask.arch, bootId: ask.bootId, holds: (id) => holds.has(id) }
  return casLoop<BootDecision>(etcd, netbootSlotsKey(mac), (rec) => {
    const d = decideNetbootBoot(rec, req, nowMs)
    return { write: d.kind === 'offer' ? d.next : null, result: d }
  })
}

/** A verified slot order on a member's etcd: the record after it. */
export function applyChange(etcd: SlotRecordsEtcd, req: ChangeRequest, nowMs: number) {
  return casLoop<NetbootSlotRecord | null>(etcd, netbootSlotsKey(req.mac), (rec) => {
    const d = decideNetbootChange(rec, req, nowMs)
    if (!d.ok) throw Object.assign(new HomecloudError('SLOT_REFUSED', d.error), { status: d.status })
    return { write: d.next, result: d.next ?? rec }
  })
}

/** How serving nodes and netbooted agents reach the records: directly or through a voter. */
export interface NetbootSlotsClient {
  read(mac: string): Promise<NetbootSlotRecord | null>
  boot(mac: string, ask: BootAsk): Promise<BootDecision>
  /** A signed slot order for the calling node, applied to its MAC's record. */
  change(body: ChangeBody): Promise<NetbootSlotRecord | null>
}

export const ChangeBody = z
  .object({
    mac: z.string().max(17),
    arch: z.enum(['amd64', 'arm64']),
    order: z.string().max(8 * 1024),
    running: z.object({ id: z.string().max(64), version: z.string().min(1).max(64) }).strict(),
  })
  .strict()
export type ChangeBody = z.infer<typeof ChangeBody>

const RecordAnswer = z.object({ record: NetbootSlotRecord.nullable() }).strict()
/** A voter's boot decision as it arrives (checked like any other answer). */
const BootAnswer = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('refuse'), reason: z.string().max(300) }).strict(),
  z
    .object({
      kind: z.literal('offer'),
      slot: z.enum(['a', 'b']),
      releaseId: z.string().regex(/^[0-9a-f]{64}$/),
      version: z.string().min(1).max(64),
      mode: z.enum(['good', 'trying', 'fallback', 'none', 'same-boot', 'good-instead']),
      next: NetbootSlotRecord.nullable(),
    })
    .strict(),
])
const relayTimeoutMs = 5000

/** A worker's way: each alive voter in turn (netboot-routes.ts answers). */
export class RelayNetbootSlots implements NetbootSlotsClient {
  constructor(
    private readonly c: {
      voters: () => { id: string; address: string; tlsPort: number }[]
      client: PeerClient
    },
  ) {}

  async read(mac: string) {
    return RecordAnswer.parse(await this.ask(`/read?${new URLSearchParams({ mac })}`)).record
  }

  async boot(mac: string, ask: BootAsk) {
    return BootAnswer.parse(await this.ask('/boot', JSON.stringify({ mac, ...ask }))) as BootDecision
  }

  async change(body: ChangeBody) {
    return RecordAnswer.parse(await this.ask('/change', JSON.stringify(body))).record
  }

  private ask(path: string, body?: string): Promise<unknown> {
    const voters = this.c.voters().map((v) => ({
      id: v.id,
      url: `https://${v.address}:${v.tlsPort}/api/v1/netboot-slots${path}`,
    }))
    return this.c.client.askEach(voters, {
      ...(body === undefined ? {} : { body }),
      bodyBytesMax: 64 * 1024,
      timeoutMs: relayTimeoutMs,
      what: 'netboot-slots',
      none: new HomecloudError('ETCD_UNREACHABLE', 'no voter is alive to keep netboot slots'),
      // A refusal is the answer (every voter would give it); only an unreachable voter moves on.
      refusalEnds: true,
    })
  }
}

/** A serving node's way: its own etcd while it is a member, else a voter. */
export class MemberOrRelaySlots implements NetbootSlotsClient {
  constructor(
    private readonly c: {
      memberEtcd: () => SlotRecordsEtcd | null
      relay: NetbootSlotsClient
      nowMs: () => number
    },
  ) {}

  async read(mac: string) {
    const etcd = this.c.memberEtcd()
    return etcd ? parseRecord(await etcd.get(netbootSlotsKey(mac))) : this.c.relay.read(mac)
  }

  boot(mac: string, ask: BootAsk) {
    const etcd = this.c.memberEtcd()
    return etcd ? applyBoot(etcd, mac, ask, this.c.nowMs()) : this.c.relay.boot(mac, ask)
  }

  /** Orders are checked by the voter's route (netboot-routes.ts), so they always go there. */
  change(body: ChangeBody) {
    return this.c.relay.change(body)
  }
}
