import { z } from 'zod'
import { HOLDERS_PREFIX, MANIFEST_PREFIX, RELEASES_PREFIX } from '../../control/releases/records.js'
import { ROLLOUT_KEY } from '../../control/rollout/record.js'
import type { PeerClient } from '../api/peer-client.js'
import { HomecloudError } from '../core/errors.js'
import type { EtcdClient } from '../etcd/client.js'
import type { KeyValue } from '../etcd/model/types.js'

// etcd refuses a node that is no member (etcd-auth.ts), so such a node reads the release
// records through a voter's agent API (7443, mutual TLS with its agent certificate) and
// writes only its own holders record that way. The records are signed, so the voter in
// between can hide them but not forge them. A release uploaded to such a node is
// announced the same way: the voter checks the release signature against the trusted
// keys and that the node names itself as the origin, then writes the record (the first
// announcement of an id wins, as for a member). Moving `current` and trusting keys stay
// with the nodes that hold the CA key (NOT_SIGNER sends the CLI to another node).

/** What the release code asks of etcd: a member's EtcdClient, or this relay. */
export type RecordsEtcd = Pick<EtcdClient, 'get' | 'getPrefix' | 'put' | 'createIfAbsent' | 'txn'>

/** The wire form of a KeyValue (the lease as a decimal string). */
export const WireKv = z.object({
  key: z.string(),
  value: z.string(),
  createRevision: z.number().int(),
  modRevision: z.number().int(),
  version: z.number().int(),
  lease: z.string().regex(/^\d{1,20}$/),
})
export const WireKvs = z.object({ kvs: z.array(WireKv).max(10_000) })
/** A worker's announcement of a release it holds, relayed to a voter (relay-routes.ts). */
export const AnnounceBody = z
  .object({ key: z.string().startsWith(MANIFEST_PREFIX).max(512), value: z.string().max(3 * 1024 * 1024) })
  .strict()
export const AnnounceAnswer = z.object({ created: z.boolean() })
export const kvToWire = (kv: KeyValue) => ({ ...kv, lease: kv.lease.toString() })
const kvFromWire = (kv: z.infer<typeof WireKv>): KeyValue => ({ ...kv, lease: BigInt(kv.lease) })

/**
 * Only release records pass the relay, and the rollout record read as one key (its
 * targets stay wanted: control/rollout pinnedTargets; workers may read the rollout anyway).
 */
export function relayable(key: string, exact: boolean): boolean {
  return (key.startsWith(RELEASES_PREFIX) && key.length <= 512) || (exact && key === ROLLOUT_KEY)
}

export const relayBytesMax = 24 * 1024 * 1024
const relayTimeoutMs = 5000

export class RecordsRelay implements RecordsEtcd {
  constructor(
    private readonly c: {
      selfId: string
      /** Alive voters (node id, address) to ask, in order. */
      voters: () => { id: string; address: string }[]
      apiPort: number
      client: PeerClient
    },
  ) {}

  async get(key: string, opts: { revision?: number } = {}): Promise<KeyValue | undefined> {
    const q = new URLSearchParams({ key, ...(opts.revision ? { rev: String(opts.revision) } : {}) })
    return (await this.ask(`/api/v1/releases/etcd?${q}`))[0]
  }

  async getPrefix(prefix: string): Promise<KeyValue[]> {
    return this.ask(`/api/v1/releases/etcd?${new URLSearchParams({ prefix })}`)
  }

  async put(key: string, value: string): Promise<number> {
    if (key !== `${HOLDERS_PREFIX}${this.c.selfId}`) throw notSigner()
    await this.ask('/api/v1/releases/holders', JSON.stringify({ value }))
    return 0
  }

  async createIfAbsent(key: string, value: string): Promise<boolean> {
    if (!key.startsWith(MANIFEST_PREFIX)) throw notSigner()
    const answer = await this.call('/api/v1/releases/announce', JSON.stringify({ key, value }))
    return AnnounceAnswer.parse(answer).created
  }

  async txn(): Promise<never> {
    throw notSigner()
  }

  private async ask(path: string, body?: string): Promise<KeyValue[]> {
    return WireKvs.parse(await this.call(path, body)).kvs.map(kvFromWire)
  }

  private call(path: string, body?: string): Promise<unknown> {
    const voters = this.c
      .voters()
      .map((v) => ({ id: v.id, url: `https://${v.address}:${this.c.apiPort}${path}` }))
    return this.c.client.askEach(voters, {
      ...(body === undefined ? {} : { body }),
      bodyBytesMax: relayBytesMax,
      timeoutMs: relayTimeoutMs,
      what: 'release-records',
      none: new HomecloudError('ETCD_UNREACHABLE', 'no voter is alive to relay the release records'),
    })
  }
}

function notSigner(): HomecloudError {
  return new HomecloudError(
    'NOT_SIGNER',
    'this node is no etcd member: only control-plane nodes move the current release or trust keys',
    'ask a control-plane node (homecloud status lists them)',
  )
}
