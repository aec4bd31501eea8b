import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../../agent/core/canonical.js'
import { nodeIdFromPublicKey } from '../../agent/identity/identity.js'
import type { PlacementPolicy } from '../placement/policy.js'
import type { MemberSet, Placement } from '../placement/types.js'

// `/homecloud/placement`: what the coordinator decided and why (for the status page,
// `homecloud status` and tests), and since when each etcd member has been seen down
// (so the failover grace survives a change of coordinator). Written only by the
// coordinator, fenced by its lease, and signed with its node key: any client
// certificate of the CA can write etcd, but only a voter's key makes a record the
// next coordinator believes. Read through the schema and the signature check, so a
// tampered or foreign value is refused with the field or the reason.

export const PLACEMENT_KEY = '/homecloud/placement'
export const COORDINATOR_ELECTION = '/homecloud/coordinator'

const Action = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('promote'), id: z.string() }),
  z.object({ kind: z.literal('add-learner'), id: z.string() }),
  z.object({ kind: z.literal('remove'), id: z.string(), reason: z.string() }),
  z.object({ kind: z.literal('wait'), reason: z.string(), id: z.string().optional() }),
])

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a 32-byte key in hex')
const membersMax = 64

export const PlacementRecord = z.object({
  v: z.literal(2),
  atMs: z.number().int().nonnegative(),
  /** The coordinator's node id, and its ed25519 public key (the id is derived from it). */
  coordinator: z.string().min(1).max(64),
  coordinatorKey: Hex64,
  voters: z.array(z.string()).max(64),
  learners: z.array(z.string()).max(64),
  target: z.array(z.string()).max(64),
  /**
   * Target boards of a fallback architecture (an x86 laptop beside two Pis), for the
   * status page. Written only when there are any, so a record without them is byte for
   * byte what coordinators before the field sign and verify.
   */
  fallback: z.array(z.string()).max(64).optional(),
  next: Action,
  quorumLost: z.boolean(),
  reasons: z.record(
    z.string(),
    z.object({ name: z.string().optional(), eligible: z.boolean(), chosen: z.boolean(), why: z.string() }),
  ),
  /** The policy it decided by, for the status page: which kind of board can take a seat. */
  policy: z
    .object({
      eligibleArchs: z.array(z.string().max(16)).max(8),
      fsyncP99MsMax: z.number(),
      votersTarget: z.number().int(),
      failoverGraceMs: z.number(),
    })
    .optional(),
  /** etcd members seen down, since when (wall ms): kept from coordinator to coordinator. */
  deadSince: z
    .record(z.string().min(1).max(64), z.number().int().nonnegative())
    .refine((d) => Object.keys(d).length <= membersMax, `at most ${membersMax} entries`),
})
export type PlacementRecord = z.infer<typeof PlacementRecord>

export const SignedPlacement = z.object({
  body: PlacementRecord,
  sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'an ed25519 signature in base64'),
})
export type SignedPlacement = z.infer<typeof SignedPlacement>

/** Who signs: the coordinator's node identity. */
export interface PlacementSigner {
  id: string
  publicKey: Buffer
  privateKey: KeyObject
}

const DOMAIN = 'homecloud/placement/v2\n'
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const signedBytes = (body: PlacementRecord) => Buffer.from(DOMAIN + canonicalJson(body))

export function signPlacement(body: PlacementRecord, signer: PlacementSigner): SignedPlacement {
  return { body, sig: sign(null, signedBytes(body), signer.privateKey).toString('base64') }
}

export function placementRecord(
  p: Placement,
  current: MemberSet,
  coordinator: { id: string; publicKey: Buffer },
  names: ReadonlyMap<string, string>,
  atMs: number,
  deadSince: Readonly<Record<string, number>> = {},
  policy?: Pick<PlacementPolicy, 'eligibleArchs' | 'fsyncP99MsMax' | 'votersTarget' | 'failoverGraceMs'>,
): PlacementRecord {
  const reasons: PlacementRecord['reasons'] = {}
  for (const [id, r] of Object.entries(p.reasons)) {
    const name = names.get(id)
    reasons[id] = { ...(name !== undefined ? { name } : {}), ...r }
  }
  return {
    v: 2,
    atMs,
    coordinator: coordinator.id,
    coordinatorKey: coordinator.publicKey.toString('hex'),
    voters: [...current.voters].sort(),
    learners: [...current.learners].sort(),
    target: p.target,
    ...(p.fallback.length > 0 ? { fallback: [...p.fallback] } : {}),
    next: p.next,
    quorumLost: p.quorumLost,
    reasons,
    ...(policy
      ? {
          policy: {
            eligibleArchs: [...policy.eligibleArchs],
            fsyncP99MsMax: policy.fsyncP99MsMax,
            votersTarget: policy.votersTarget,
            failoverGraceMs: policy.failoverGraceMs,
          },
        }
      : {}),
    deadSince: { ...deadSince },
  }
}

/** The per-board reasons as the status view lists them: voters-to-be first, then eligible, then by name. */
export function placementReasons(
  record: PlacementRecord,
): { id: string; name?: string; why: string; eligible: boolean; chosen: boolean }[] {
  const rank = (r: PlacementRecord['reasons'][string]) => (r.chosen ? 0 : r.eligible ? 1 : 2)
  return Object.entries(record.reasons)
    .sort(
      ([ia, a], [ib, b]) =>
        rank(a) - rank(b) || (a.name ?? ia).localeCompare(b.name ?? ib) || (ia < ib ? -1 : 1),
    )
    .map(([id, r]) => ({
      id,
      ...(r.name !== undefined ? { name: r.name } : {}),
      why: r.why,
      eligible: r.eligible,
      chosen: r.chosen,
    }))
}

/** The parts that matter for "did anything change" (not the time it was written). */
export function sameDecision(a: PlacementRecord, b: PlacementRecord): boolean {
  const strip = ({ atMs: _, ...rest }: PlacementRecord) => canonicalJson(rest)
  return strip(a) === strip(b)
}

export type ParsedPlacement = { ok: true; record: PlacementRecord } | { ok: false; error: string }

/**
 * The stored value → the record, or why it is refused: not JSON, a field failing the
 * schema, a key that is not the coordinator's, a signature that does not verify, or
 * (when `signers` is given: the current etcd voters) a signer that is not a voter.
 */
export function parsePlacementRecord(text: string, signers?: ReadonlySet<string>): ParsedPlacement {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, error: `${PLACEMENT_KEY} is not JSON` }
  }
  const r = SignedPlacement.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    return { ok: false, error: `${PLACEMENT_KEY}: ${issue?.path.join('.') || 'value'}: ${issue?.message}` }
  }
  const { body, sig } = r.data
  const pub = Buffer.from(body.coordinatorKey, 'hex')
  if (nodeIdFromPublicKey(pub) !== body.coordinator)
    return { ok: false, error: `${PLACEMENT_KEY}: coordinatorKey is not the key of ${body.coordinator}` }
  let good = false
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, pub]),
      format: 'der',
      type: 'spki',
    })
    good = verify(null, signedBytes(body), key, Buffer.from(sig, 'base64'))
  } catch {
    good = false
  }
  if (!good) return { ok: false, error: `${PLACEMENT_KEY}: the signature does not verify` }
  if (signers && !signers.has(body.coordinator))
    return { ok: false, error: `${PLACEMENT_KEY}: signed by ${body.coordinator}, which is not an etcd voter` }
  return { ok: true, record: body }
}
