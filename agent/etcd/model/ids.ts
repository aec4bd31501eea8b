import { z } from 'zod'

// etcd's 64-bit ids (members, clusters, leases) are bigint here: the JSON gateway
// sends them as decimal strings, etcdctl as bare numbers too big for a JS number.

export const uint64Max = (1n << 64n) - 1n

/** A uint64 from a decimal string (or a number that is still exact), as bigint. */
export const Uint64 = z
  .union([
    z.string().regex(/^\d{1,20}$/, 'expected a decimal uint64'),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER, 'a 64-bit id lost precision in JSON'),
  ])
  .transform((v) => BigInt(v))
  .refine((v) => v <= uint64Max, 'larger than 2^64-1')

/** Counters and indexes (revisions, raft index, TTLs, sizes): int64 on the wire, always < 2^53 in practice. */
export const Int64Number = z
  .union([z.string().regex(/^-?\d{1,19}$/, 'expected a decimal int64'), z.number().int()])
  .transform((v) => Number(v))
  .refine((v) => Number.isSafeInteger(v), 'beyond 2^53: not representable exactly')

/** etcd prints member ids as lowercase hex without padding (logs, etcdctl tables, election keys). */
export function idHex(id: bigint): string {
  return id.toString(16)
}

export function parseIdHex(hex: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return undefined
  return BigInt(`0x${hex}`)
}
