import { z } from 'zod'
import type { MemberSet, Placement } from '../placement/types.js'

// `/homecloud/placement`: what the coordinator decided and why, for the status page,
// `homecloud status` and tests. Written only by the coordinator, fenced by its lease;
// read through this schema, so a tampered or foreign value is refused with the field.

export const PLACEMENT_KEY = '/homecloud/placement'
export const COORDINATOR_ELECTION = '/homecloud/coordinator'

const Action = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('promote'), id: z.string() }),
  z.object({ kind: z.literal('add-learner'), id: z.string() }),
  z.object({ kind: z.literal('remove'), id: z.string(), reason: z.string() }),
  z.object({ kind: z.literal('wait'), reason: z.string(), id: z.string().optional() }),
])

export const PlacementRecord = z.object({
  v: z.literal(1),
  atMs: z.number().int().nonnegative(),
  /** The coordinator's node id. */
  coordinator: z.string().min(1).max(64),
  voters: z.array(z.string()).max(64),
  learners: z.array(z.string()).max(64),
  target: z.array(z.string()).max(64),
  next: Action,
  quorumLost: z.boolean(),
  reasons: z.record(
    z.string(),
    z.object({ name: z.string().optional(), eligible: z.boolean(), chosen: z.boolean(), why: z.string() }),
  ),
})
export type PlacementRecord = z.infer<typeof PlacementRecord>

export function placementRecord(
  p: Placement,
  current: MemberSet,
  coordinator: string,
  names: ReadonlyMap<string, string>,
  atMs: number,
): PlacementRecord {
  const reasons: PlacementRecord['reasons'] = {}
  for (const [id, r] of Object.entries(p.reasons)) {
    const name = names.get(id)
    reasons[id] = { ...(name !== undefined ? { name } : {}), ...r }
  }
  return {
    v: 1,
    atMs,
    coordinator,
    voters: [...current.voters].sort(),
    learners: [...current.learners].sort(),
    target: p.target,
    next: p.next,
    quorumLost: p.quorumLost,
    reasons,
  }
}

/** The per-board reasons as the status view lists them: voters-to-be first, then eligible, then by name. */
export function placementReasons(record: PlacementRecord): { id: string; name?: string; why: string }[] {
  const rank = (r: PlacementRecord['reasons'][string]) => (r.chosen ? 0 : r.eligible ? 1 : 2)
  return Object.entries(record.reasons)
    .sort(
      ([ia, a], [ib, b]) =>
        rank(a) - rank(b) || (a.name ?? ia).localeCompare(b.name ?? ib) || (ia < ib ? -1 : 1),
    )
    .map(([id, r]) => ({ id, ...(r.name !== undefined ? { name: r.name } : {}), why: r.why }))
}

/** The parts that matter for "did anything change" (not the time it was written). */
export function sameDecision(a: PlacementRecord, b: PlacementRecord): boolean {
  const strip = ({ atMs: _, ...rest }: PlacementRecord) => JSON.stringify(rest)
  return strip(a) === strip(b)
}

export type ParsedPlacement = { ok: true; record: PlacementRecord } | { ok: false; error: string }

export function parsePlacementRecord(text: string): ParsedPlacement {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, error: `${PLACEMENT_KEY} is not JSON` }
  }
  const r = PlacementRecord.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    return { ok: false, error: `${PLACEMENT_KEY}: ${issue?.path.join('.') || 'value'}: ${issue?.message}` }
  }
  return { ok: true, record: r.data }
}
