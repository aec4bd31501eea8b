import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../../agent/core/canonical.js'
import { nodeIdFromPublicKey } from '../../agent/identity/identity.js'
import { HOLDERS_PREFIX } from './records.js'

// /homecloud/releases/holders/<node id>: what one node holds of each release and its
// problem (a full disk), for `release list`, GET /api/v1/releases and the status page.
// Any member can write any etcd key, so each node signs its own record with its identity
// key (the one its mesh records carry), and a reader keeps a record only if the member
// filed under that id signed it: a member cannot claim another node holds a release, or
// put words in its mouth on every status page. The record decides nothing: what a node
// fetches and serves comes from the CA-signed records and the release signatures.

/** Releases one record lists at most (a node keeps a handful). */
export const holdersHeldMax = 64
const Sha = z.string().regex(/^[0-9a-f]{64}$/)
const NodeId = z.string().regex(/^[0-9a-f]{20}$/)

export const HoldersBody = z
  .object({
    v: z.literal(1),
    node: NodeId,
    name: z.string().min(1).max(64),
    atMs: z.number().int().nonnegative(),
    held: z
      .array(
        z
          .object({
            id: Sha,
            have: z.number().int().nonnegative(),
            of: z.number().int().positive().max(1_000_000),
          })
          .strict()
          .refine((h) => h.have <= h.of, 'have is more than of'),
      )
      .max(holdersHeldMax),
    problem: z.string().max(500).nullable(),
  })
  .strict()
export type HoldersBody = z.infer<typeof HoldersBody>

const SignedHolders = z.object({ body: z.unknown(), sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/) }).strict()
const DOMAIN = 'homecloud/release-holders/v1\n'
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** The value a node puts under its own holders key, signed with its identity key. */
export function signHolders(body: HoldersBody, identityKey: KeyObject): string {
  const sig = sign(null, Buffer.from(DOMAIN + canonicalJson(body)), identityKey).toString('base64')
  return JSON.stringify({ body, sig })
}

/**
 * A stored holders value → its body, or why it is refused. `memberKey` is the public key
 * (hex) the mesh knows for the node id the record is filed under.
 */
export function verifyHolders(
  etcdKey: string,
  text: string,
  memberKey: string,
): { ok: true; body: HoldersBody } | { ok: false; error: string } {
  const id = etcdKey.slice(HOLDERS_PREFIX.length)
  const where = `${HOLDERS_PREFIX}${id.slice(0, 12)}…`
  let outer: z.infer<typeof SignedHolders>
  try {
    outer = SignedHolders.parse(JSON.parse(text))
  } catch {
    return { ok: false, error: `${where}: not a signed holders record {body, sig}` }
  }
  const body = HoldersBody.safeParse(outer.body)
  if (!body.success) {
    const issue = body.error.issues[0]
    return { ok: false, error: `${where}: ${issue?.path.join('.') || 'body'}: ${issue?.message}` }
  }
  const raw = Buffer.from(memberKey, 'hex')
  let good = body.data.node === id && raw.length === 32 && nodeIdFromPublicKey(raw) === id
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
      format: 'der',
      type: 'spki',
    })
    good &&= verify(
      null,
      Buffer.from(DOMAIN + canonicalJson(outer.body)),
      key,
      Buffer.from(outer.sig, 'base64'),
    )
  } catch {
    good = false
  }
  return good ? { ok: true, body: body.data } : { ok: false, error: `${where}: not signed by that node` }
}
