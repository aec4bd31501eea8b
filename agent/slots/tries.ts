import { HomecloudError } from '../core/errors.js'
import {
  type BootState,
  otherSlot,
  type SlotContent,
  type SlotName,
  type SlotReport,
  triesMax,
} from './types.js'

// The try counting every boot-slot backend shares (pure: no clock, no I/O). The
// firmware's side is `boot`: called once per power-on, it picks the slot and counts the
// try *before* the slot runs, so a system that dies at start still used up a try. The
// booted system's side is install / tryNext / markGood / fallBack. A backend loads its
// BootState, applies one of these, persists the result, then acts.
//
//   install(X) ─▶ slot X written, counter reset (trying = none)
//   tryNext(n) ─▶ trying = X, triesLeft = n
//   boot       ─▶ trying with triesLeft > 0: boot X, triesLeft − 1
//                 trying with triesLeft = 0: fallback (trying = none), boot good
//                 otherwise: boot good
//   markGood   ─▶ booted X is now good, trying = none
//   fallBack   ─▶ trying = none (the next boot is the good slot)

export type SlotsStep = { ok: true; state: BootState } | { ok: false; error: string }

export function emptyBootState(): BootState {
  return {
    v: 1,
    slots: { a: null, b: null },
    good: null,
    trying: null,
    triesLeft: 0,
    booted: null,
    boots: 0,
    lastFallback: null,
  }
}

/** A machine provisioned with one release (first install, lab up, a flashed disk): slot a, good. */
export function provisionedBootState(content: SlotContent): BootState {
  return { ...emptyBootState(), slots: { a: content, b: null }, good: 'a' }
}

/** The slot an install writes: neither the committed one nor the one running now. */
export function inactiveSlot(s: BootState): SlotName | null {
  const keep = new Set<SlotName>()
  if (s.good) keep.add(s.good)
  if (s.booted) keep.add(s.booted)
  if (keep.size === 0) return 'a'
  if (keep.size === 2) return null
  return otherSlot([...keep][0] as SlotName)
}

export function install(s: BootState, content: SlotContent): SlotsStep {
  const slot = inactiveSlot(s)
  if (!slot)
    return {
      ok: false,
      error: `both slots are in use (good ${s.good}, booted ${s.booted}): commit or fall back first`,
    }
  return {
    ok: true,
    state: { ...s, slots: { ...s.slots, [slot]: content }, trying: null, triesLeft: 0 },
  }
}

export function tryNext(s: BootState, tries: number): SlotsStep {
  if (!Number.isInteger(tries) || tries < 1 || tries > triesMax)
    return { ok: false, error: `tries must be 1…${triesMax}, not ${tries}` }
  const slot = inactiveSlot(s)
  if (!slot || !s.slots[slot])
    return { ok: false, error: 'nothing is installed in the inactive slot: install a release first' }
  return { ok: true, state: { ...s, trying: slot, triesLeft: tries } }
}

export type BootMode = 'good' | 'trying' | 'fallback' | 'none'

/** The firmware at power-on: which slot to start, and the state to persist before starting it. */
export function boot(
  s: BootState,
  nowMs: number,
): { state: BootState; slot: SlotName | null; mode: BootMode } {
  const boots = s.boots + 1
  if (s.trying && s.slots[s.trying] && s.triesLeft > 0) {
    const state = { ...s, triesLeft: s.triesLeft - 1, booted: s.trying, boots }
    return { state, slot: s.trying, mode: 'trying' }
  }
  let lastFallback = s.lastFallback
  let mode: BootMode = 'good'
  if (s.trying) {
    const c = s.slots[s.trying]
    if (c)
      lastFallback = {
        slot: s.trying,
        releaseId: c.releaseId,
        version: c.version,
        reason: 'tries-exhausted',
        atMs: nowMs,
      }
    mode = 'fallback'
  }
  const slot = s.good && s.slots[s.good] ? s.good : null
  const state = { ...s, trying: null, triesLeft: 0, booted: slot, boots, lastFallback }
  return { state, slot, mode: slot ? mode : 'none' }
}

export function markGood(s: BootState): SlotsStep {
  if (!s.booted) return { ok: false, error: 'nothing has booted yet' }
  if (s.trying === s.booted) return { ok: true, state: { ...s, good: s.booted, trying: null, triesLeft: 0 } }
  if (s.good === s.booted) return { ok: true, state: s }
  return {
    ok: false,
    error: `the booted slot ${s.booted} is neither good nor being tried (it ran out of tries): reboot first`,
  }
}

/** Forget the tried slot. `needsReboot`: the machine runs an uncommitted slot now. */
export function fallBack(s: BootState, nowMs: number): { state: BootState; needsReboot: boolean } {
  const running = s.booted && s.booted !== s.good ? s.booted : null
  const c = running ? s.slots[running] : s.trying ? s.slots[s.trying] : null
  const slot = running ?? s.trying
  const lastFallback =
    slot && c
      ? {
          slot,
          releaseId: c.releaseId,
          version: c.version,
          reason: 'asked' as const,
          atMs: nowMs,
        }
      : s.lastFallback
  return {
    state: { ...s, trying: null, triesLeft: 0, lastFallback },
    needsReboot: running !== null && s.good !== null,
  }
}

export function slotReport(s: BootState, kind: SlotReport['kind'], arch: SlotReport['arch']): SlotReport {
  const content = (slot: SlotName | null) => (slot ? s.slots[slot] : null)
  return {
    kind,
    arch,
    installed: s.slots,
    booted: s.booted,
    bootedRelease: content(s.booted),
    good: s.good,
    goodRelease: content(s.good),
    trying: s.trying,
    tryingRelease: content(s.trying),
    triesLeft: s.triesLeft,
    committed: s.booted !== null && s.booted === s.good,
    lastFallback: s.lastFallback,
    boots: s.boots,
  }
}

/**
 * What installing a release means for every backend: the slot written, what it will hold,
 * the state to persist *before* writing it (no try may point at a slot being rewritten,
 * so a power cut mid-write boots the good slot), and the state once it is written.
 */
export function planInstall(
  s: BootState,
  release: { id: string; manifest: { version: string } },
  nowMs: number,
): { slot: SlotName; content: SlotContent; writing: BootState; next: BootState } {
  const content = { releaseId: release.id, version: release.manifest.version, installedAtMs: nowMs }
  const next = stepOrThrow(install(s, content), 'install')
  const slot = inactiveSlot(s)
  if (!slot) throw new Error('assertion: install succeeded without an inactive slot')
  return { slot, content, writing: { ...s, trying: null, triesLeft: 0 }, next }
}

/** A step's state, or SLOT_REFUSED naming why (for backends). */
export function stepOrThrow(r: SlotsStep, what: string): BootState {
  if (r.ok) return r.state
  throw new HomecloudError('SLOT_REFUSED', `${what}: ${r.error}`, 'see `homecloud upgrade status`')
}
