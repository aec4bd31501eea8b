import { z } from 'zod'
import type { GrubEnv } from './grubenv.js'
import { type BootState, Fallback, type SlotContent, type SlotName, triesMax } from './types.js'

// A disk machine's BootState, mapped onto what GRUB can keep (pure). GRUB plays the
// firmware: at every boot grub.cfg (grub-script.ts) reads grubenv, decides like
// tries.ts boot() and writes back what it did. GRUB has no arithmetic and no clock, so
// it keeps only these names, and the agent folds the rest in when it starts:
//
//   hc_good      committed slot (a|b)            agent writes (markGood)
//   hc_trying    slot being tried, or empty     agent writes (install/tryNext/markGood/fallBack), GRUB clears
//   hc_tries     tries left, 0…10               agent writes (tryNext), GRUB counts down
//   hc_booted    what this boot chose           GRUB writes
//   hc_fallback  slot GRUB gave up on           GRUB writes, the agent records it and clears it
//   hc_marks     one `x` per boot (≤ 16)         GRUB appends, the agent adds them to `boots` and clears
//
// What each slot holds is read from the slot itself (slot.json, written last by an
// install); the boot count and the last fallback live in a small file beside grubenv.

export const GRUB_VARS = ['hc_good', 'hc_trying', 'hc_tries', 'hc_booted', 'hc_fallback', 'hc_marks'] as const
/** GRUB stops adding marks past this, so the block never overflows if the agent never runs. */
export const grubMarksMax = 16

/** The agent's side of the state: what GRUB cannot count. */
export const GrubBook = z
  .object({
    v: z.literal(1),
    boots: z.number().int().nonnegative(),
    lastFallback: Fallback.nullable(),
  })
  .strict()
export type GrubBook = z.infer<typeof GrubBook>

export const emptyGrubBook = (): GrubBook => ({ v: 1, boots: 0, lastFallback: null })

const slotOf = (v: string | undefined): SlotName | null => (v === 'a' || v === 'b' ? v : null)

/** Tries left as grub.cfg reads them: `0`…`10` spelled plainly; anything else is none left. */
function triesOf(v: string | undefined): number {
  const n = Number(v)
  return v !== undefined && /^(0|[1-9][0-9]?)$/.test(v) && n <= triesMax ? n : 0
}

export interface GrubObserved {
  env: GrubEnv
  slots: { a: SlotContent | null; b: SlotContent | null }
  book: GrubBook
}

/**
 * The BootState as GRUB left it, with its marks and fallback folded into the book.
 * `envChanges` clears what was folded (apply it after saving `book`: a crash in between
 * counts those boots twice, never loses one, so `boots` only grows).
 */
export function settleGrub(
  o: GrubObserved,
  nowMs: number,
): { state: BootState; book: GrubBook; envChanges: Record<string, string> | null } {
  const marks = (o.env.hc_marks ?? '').length
  const fell = slotOf(o.env.hc_fallback)
  const content = fell ? o.slots[fell] : null
  const lastFallback =
    fell && content
      ? Fallback.parse({
          slot: fell,
          releaseId: content.releaseId,
          version: content.version,
          reason: 'tries-exhausted',
          atMs: nowMs,
        })
      : o.book.lastFallback
  const book: GrubBook = { v: 1, boots: o.book.boots + marks, lastFallback }
  const state: BootState = {
    v: 1,
    slots: o.slots,
    good: slotOf(o.env.hc_good),
    trying: slotOf(o.env.hc_trying),
    triesLeft: triesOf(o.env.hc_tries),
    booted: slotOf(o.env.hc_booted),
    boots: book.boots,
    lastFallback,
  }
  const folded = marks > 0 || (o.env.hc_fallback ?? '') !== ''
  return { state, book, envChanges: folded ? { hc_marks: '', hc_fallback: '' } : null }
}

/** The names the agent writes for a state it moved (tries.ts) — never hc_booted, which is GRUB's. */
export function grubEnvFor(s: BootState): Record<string, string> {
  return { hc_good: s.good ?? '', hc_trying: s.trying ?? '', hc_tries: String(s.triesLeft) }
}

export function grubBookFor(s: BootState): GrubBook {
  return { v: 1, boots: s.boots, lastFallback: s.lastFallback }
}

/** grubenv of a freshly written disk: slot a committed (or nothing yet). */
export function initialGrubEnv(good: SlotName | null, trying?: { slot: SlotName; tries: number }): GrubEnv {
  return {
    hc_good: good ?? '',
    hc_trying: trying?.slot ?? '',
    hc_tries: String(trying?.tries ?? 0),
    hc_booted: '',
    hc_fallback: '',
    hc_marks: '',
  }
}
