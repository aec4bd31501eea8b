import { z } from 'zod'
import { Sha256Hex } from '../core/ids.js'
import { Mac } from '../netboot/mac.js'
import type { SlotOrderBody } from './order.js'
import { type BootMode, boot, emptyBootState, fallBack, install, markGood, tryNext } from './tries.js'
import { BootState, type SlotName } from './types.js'

// A netbooted machine's boot slots (pure). Its "firmware" is whichever serving node answers
// its boot request: the slot is the release that node offers its MAC. The BootState lives in
// etcd, one record per MAC, so every serving node gives the same answer, and each change is
// a compare-and-swap on that record (netboot-store.ts): two serving nodes answering one boot
// count one try, because a boot carries a boot id (the nonce in iPXE's chain URL) and a
// record that already counted that id answers it again without counting.
//
//   no record            ─▶ nothing to decide: the node serves the cluster's current release
//   a new boot id        ─▶ tries.boot(): the tried release while tries are left, else the good one
//   the counted boot id  ─▶ the same release again, nothing written
//   the release not here ─▶ refused, nothing written (a node that holds it counts the try)

export const NETBOOT_SLOTS_PREFIX = '/homecloud/netboot-slots/'
export const netbootSlotsKey = (mac: string): string => `${NETBOOT_SLOTS_PREFIX}${mac}`

/** The nonce a serving node puts in iPXE's chain URL: one per power-on. */
export const BootId = z.string().regex(/^[0-9a-f]{16,32}$/, 'a boot id is 16–32 lower-case hex digits')

export const NetbootSlotRecord = z
  .object({
    v: z.literal(1),
    mac: Mac,
    arch: z.enum(['amd64', 'arm64']),
    state: BootState,
    /** The boot the state last counted (null: none, or a request without an id). */
    lastBootId: BootId.nullable(),
    /** The last slot order taken for this machine (replays are refused). */
    lastOrderSeq: z.number().int().nonnegative(),
    updatedAtMs: z.number().int().nonnegative(),
  })
  .strict()
export type NetbootSlotRecord = z.infer<typeof NetbootSlotRecord>

export interface BootRequest {
  arch: 'amd64' | 'arm64'
  /** Null: the loader sent none (GRUB): each request is its own boot. */
  bootId: string | null
  /** Whether the answering node holds this release whole (it can serve its files). */
  holds(releaseId: string): boolean
}

export type BootDecision =
  | { kind: 'none' }
  | { kind: 'refuse'; reason: string }
  | {
      kind: 'offer'
      slot: SlotName
      releaseId: string
      version: string
      /** good-instead: the tried release is not held here; the good one is offered, nothing counted. */
      mode: BootMode | 'same-boot' | 'good-instead'
      /** The record to compare-and-swap in (null: nothing to write). */
      next: NetbootSlotRecord | null
    }

/** Which release to offer this MAC on this boot request, and the record to write first. */
export function decideNetbootBoot(
  rec: NetbootSlotRecord | null,
  req: BootRequest,
  nowMs: number,
): BootDecision {
  if (!rec || rec.arch !== req.arch) return { kind: 'none' }
  if (req.bootId !== null && rec.lastBootId === req.bootId) {
    const slot = rec.state.booted
    const c = slot ? rec.state.slots[slot] : null
    if (!slot || !c) return { kind: 'none' }
    if (!req.holds(c.releaseId)) return notHere(c.version)
    return { kind: 'offer', slot, releaseId: c.releaseId, version: c.version, mode: 'same-boot', next: null }
  }
  const b = boot(rec.state, nowMs)
  const c = b.slot ? b.state.slots[b.slot] : null
  if (!b.slot || !c) return { kind: 'none' }
  if (!req.holds(c.releaseId))
    return b.mode === 'trying' ? goodInstead(rec, req, c.version) : notHere(c.version)
  const next = { ...rec, state: b.state, lastBootId: req.bootId, updatedAtMs: nowMs }
  return { kind: 'offer', slot: b.slot, releaseId: c.releaseId, version: c.version, mode: b.mode, next }
}

/**
 * The tried release is not held whole here (nowhere yet, or the store lost it): rather than
 * refuse every boot until a serving node holds it — the machine down all that time — offer
 * the good release, counting nothing, so the try is still there for a boot a holder answers.
 */
function goodInstead(rec: NetbootSlotRecord, req: BootRequest, tried: string): BootDecision {
  const g = rec.state.good
  const c = g ? rec.state.slots[g] : null
  if (!g || !c || !req.holds(c.releaseId)) return notHere(tried)
  return {
    kind: 'offer',
    slot: g,
    releaseId: c.releaseId,
    version: c.version,
    mode: 'good-instead',
    next: null,
  }
}

function notHere(version: string): BootDecision {
  return { kind: 'refuse', reason: `this node does not hold release ${version} whole yet` }
}

export interface ChangeRequest {
  mac: string
  arch: 'amd64' | 'arm64'
  /** A verified slot order (order.ts), for the node carrying it. */
  order: SlotOrderBody
  /** The release the machine runs now: slot a of a record made by this change. */
  running: { id: string; version: string }
}

export type ChangeDecision =
  | { ok: true; next: NetbootSlotRecord | null; repeat: boolean }
  | { ok: false; status: 400 | 409; error: string }

const RunningId = Sha256Hex

/**
 * What a slot order does to a machine's record (its agent carries the order to a voter).
 * No record yet: the machine runs `running` on slot a, committed.
 */
export function decideNetbootChange(
  rec: NetbootSlotRecord | null,
  req: ChangeRequest,
  nowMs: number,
): ChangeDecision {
  const o = req.order
  let base = rec
  if (!base) {
    if (!RunningId.safeParse(req.running.id).success)
      return { ok: false, status: 400, error: 'the running release id is not a sha256' }
    const a = { releaseId: req.running.id, version: req.running.version, installedAtMs: nowMs }
    base = {
      v: 1,
      mac: req.mac,
      arch: req.arch,
      state: { ...emptyBootState(), slots: { a, b: null }, good: 'a', booted: 'a', boots: 1 },
      lastBootId: null,
      lastOrderSeq: 0,
      updatedAtMs: nowMs,
    }
  }
  if (o.version < base.lastOrderSeq)
    return {
      ok: false,
      status: 409,
      error: `order ${o.version} is older than ${base.lastOrderSeq} (a replay)`,
    }
  if (o.version === base.lastOrderSeq) return { ok: true, next: null, repeat: true }
  const s = base.state
  let step: { ok: true; state: BootState } | { ok: false; error: string }
  switch (o.action) {
    case 'install':
      if (!o.release) return { ok: false, status: 400, error: 'an install order names a release' }
      step = install(s, { releaseId: o.release.id, version: o.release.version, installedAtMs: nowMs })
      break
    case 'try':
      step = tryNext(s, o.tries ?? 3)
      break
    case 'commit':
      step = markGood(s)
      break
    case 'fallback':
      step = { ok: true, state: fallBack(s, nowMs).state }
      break
    case 'reboot':
      step = { ok: true, state: s }
      break
  }
  if (!step.ok) return { ok: false, status: 409, error: step.error }
  return {
    ok: true,
    repeat: false,
    next: { ...base, state: step.state, lastOrderSeq: o.version, updatedAtMs: nowMs },
  }
}
