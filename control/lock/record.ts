import { z } from 'zod'

// `/homecloud/lock`: who holds the one-disruption-at-a-time lock, bound to the holder's
// etcd lease (so it vanishes when the holder dies) and read through this schema.

export const LOCK_KEY = '/homecloud/lock'

export const LockOperation = z.enum(['drain', 'undrain', 'reboot', 'upgrade', 'replace-voter', 'test'])
export type LockOperation = z.infer<typeof LockOperation>

export const LockRecord = z.object({
  v: z.literal(1),
  /** Who holds it: `cli:<host>:<pid>` or a node id. */
  holder: z.string().min(1).max(200),
  operation: LockOperation,
  /** The node the operation disrupts. */
  node: z.string().max(253),
  sinceMs: z.number().int().nonnegative(),
  /** The holder's lease, hex (etcd deletes the key when it expires). */
  lease: z.string().regex(/^[0-9a-f]{1,16}$/),
})
export type LockRecord = z.infer<typeof LockRecord>

export function parseLockRecord(value: string): LockRecord | undefined {
  try {
    const r = LockRecord.safeParse(JSON.parse(value))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}

export function describeHolder(r: LockRecord | undefined, nowMs: number): string {
  if (!r) return 'an unreadable lock record'
  const ago = Math.max(0, Math.round((nowMs - r.sinceMs) / 1000))
  return `${r.holder} (${r.operation}${r.node ? ` of ${r.node}` : ''}, for ${ago} s)`
}
