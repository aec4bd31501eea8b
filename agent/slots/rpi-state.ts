import { z } from 'zod'
import { boot, type SlotsStep, tryNext } from './tries.js'
import { BootState, type SlotName } from './types.js'

// The Raspberry Pi's BootState (pure). Its firmware boots autoboot.txt's [tryboot]
// partition once, after `reboot '0 tryboot'`, and keeps no counter, so the agent plays
// the counting half of tries.ts boot() itself:
//  - tryNext honours one try, whatever was asked (the report then says triesLeft 1);
//  - before a tryboot reboot the agent applies boot() — the try is used up before the
//    tried slot runs, as on every other backend, because a tried kernel that panics
//    never runs the agent again — and notes that this boot is already counted;
//  - at start it reads which slot booted (homecloud.slot= on the command line): the
//    counted boot if it matches, otherwise a boot the firmware made on its own (power cut,
//    crash, watchdog: always the [all] = good slot), which boot() counts now; a try
//    asked for but never rebooted into stays pending (no try was used).
// The book lives on the boot partition beside autoboot.txt (homecloud/slots.json).

export const rpiTriesMax = 1

export const RpiBook = z
  .object({
    v: z.literal(1),
    state: BootState,
    /** The agent applied boot() before `reboot '0 tryboot'`: the next start is that boot. */
    precounted: z.boolean(),
  })
  .strict()
export type RpiBook = z.infer<typeof RpiBook>

/** tryNext clamped to the one try the firmware honours. */
export function rpiTryNext(s: BootState, tries: number): SlotsStep {
  const r = tryNext(s, tries)
  return r.ok ? { ok: true, state: { ...r.state, triesLeft: Math.min(r.state.triesLeft, rpiTriesMax) } } : r
}

/**
 * What to do at `reboot()`: with a slot being tried, count its boot now and reboot with
 * tryboot; otherwise an ordinary reboot (the firmware boots the good slot, counted at start).
 */
export function rpiBeforeReboot(s: BootState, nowMs: number): { book: RpiBook; tryboot: boolean } {
  if (s.trying && s.slots[s.trying] && s.triesLeft > 0) {
    const b = boot(s, nowMs)
    return { book: { v: 1, state: b.state, precounted: true }, tryboot: true }
  }
  return { book: { v: 1, state: s, precounted: false }, tryboot: false }
}

/**
 * The state at agent start, given the slot that booted. A boot the agent did not count
 * was an ordinary one: the firmware booted [all], the good slot, and a try still pending
 * (asked for, never rebooted into) stays pending — the Pi cannot boot it unasked, so no
 * try was used. `unexpected`: the firmware booted a slot this reckoning would not have (a
 * hand-edited autoboot.txt); the state then follows the firmware, since that is what runs.
 */
export function rpiAtStart(
  book: RpiBook,
  bootedSlot: SlotName,
  nowMs: number,
): { book: RpiBook; unexpected: boolean } {
  const s = book.state
  if (book.precounted && s.booted === bootedSlot)
    return { book: { v: 1, state: s, precounted: false }, unexpected: false }
  const pending = s.trying !== null && s.triesLeft > 0
  const b = boot(pending ? { ...s, trying: null, triesLeft: 0 } : s, nowMs)
  const counted = pending ? { ...b.state, trying: s.trying, triesLeft: s.triesLeft } : b.state
  const state = b.slot === bootedSlot ? counted : { ...counted, booted: bootedSlot }
  return { book: { v: 1, state, precounted: false }, unexpected: b.slot !== bootedSlot }
}
