import { z } from 'zod'
import { Sha256Hex } from '../core/ids.js'
import type { Release, ReleaseArch } from '../release/manifest.js'

// Two boot slots on every kind of machine, one interface (issue 14). A machine boots its
// committed ("good") slot, or — once, with a bounded number of tries — the other slot
// after an install. Nothing but the health gate commits the other slot (markGood); a
// machine whose tried slot never gets committed comes back on its good slot by itself
// when the tries run out, because whatever plays the firmware (lab launcher, the netboot
// servers, GRUB, the Pi's tryboot) counts the tries, not the booted system.
//
// Backends: lab (agent/slots/lab-*.ts: the lab launcher plays the firmware), netboot (the
// serving nodes pick the release per MAC from an etcd record), GRUB on a disk and the
// Raspberry Pi's tryboot (the `slots` engineer). All of them keep a `BootState` (in a
// file, in etcd, or mapped onto grubenv / autoboot.txt) and move it only through the pure
// functions of `tries.ts`, so the try counting is one piece of code everywhere.

export const SlotName = z.enum(['a', 'b'])
export type SlotName = z.infer<typeof SlotName>

export const otherSlot = (s: SlotName): SlotName => (s === 'a' ? 'b' : 'a')

/** What is installed in one slot. */
export const SlotContent = z
  .object({
    /** The release id (sha256 of its manifest). */
    releaseId: Sha256Hex,
    /** The release's version (the agent version it runs: AGENT_VERSION). */
    version: z.string().min(1).max(64),
    installedAtMs: z.number().int().nonnegative(),
  })
  .strict()
export type SlotContent = z.infer<typeof SlotContent>

/** Boots a tried slot may take before the firmware gives up on it. */
export const triesMax = 10
export const triesDefault = 3

/** Why the machine last went back to its good slot. */
export const Fallback = z
  .object({
    slot: SlotName,
    releaseId: Sha256Hex,
    version: z.string().max(64),
    /** `tries-exhausted`: booted `tries` times without a commit; `asked`: fallBack() was called. */
    reason: z.enum(['tries-exhausted', 'asked']),
    atMs: z.number().int().nonnegative(),
  })
  .strict()
export type Fallback = z.infer<typeof Fallback>

/**
 * The firmware's state: everything a boot decision needs. Each backend persists it
 * (lab: a JSON file beside the node; netboot: etcd per MAC; GRUB: grubenv; Pi:
 * autoboot.txt + tryboot) and changes it only through tries.ts.
 */
export const BootState = z
  .object({
    v: z.literal(1),
    slots: z.object({ a: SlotContent.nullable(), b: SlotContent.nullable() }).strict(),
    /** The committed slot: what the machine boots when nothing is being tried. */
    good: SlotName.nullable(),
    /** A slot booted instead of `good` while `triesLeft` > 0 (tryNext sets it; markGood/fallBack/install clear it). */
    trying: SlotName.nullable(),
    triesLeft: z.number().int().min(0).max(triesMax),
    /** What the last boot chose (the firmware writes it as it boots). */
    booted: SlotName.nullable(),
    /** Boots so far (each one a firmware decision). */
    boots: z.number().int().nonnegative(),
    lastFallback: Fallback.nullable(),
  })
  .strict()
export type BootState = z.infer<typeof BootState>

/** What a machine reports after a boot (GET /api/v1/slots; the rollout's health gate reads it). */
export const SlotReport = z
  .object({
    /** Which backend plays the firmware. */
    kind: z.enum(['lab', 'netboot', 'grub', 'rpi-tryboot', 'none']),
    /** The architecture of the releases this machine boots (a lab board simulating arm64 runs amd64). */
    arch: z.enum(['amd64', 'arm64']),
    /** What each slot holds. */
    installed: z.object({ a: SlotContent.nullable(), b: SlotContent.nullable() }).strict(),
    booted: SlotName.nullable(),
    bootedRelease: SlotContent.nullable(),
    good: SlotName.nullable(),
    goodRelease: SlotContent.nullable(),
    trying: SlotName.nullable(),
    tryingRelease: SlotContent.nullable(),
    triesLeft: z.number().int().min(0).max(triesMax),
    /** The booted slot is the committed one. */
    committed: z.boolean(),
    lastFallback: Fallback.nullable(),
    boots: z.number().int().nonnegative(),
  })
  .strict()
export type SlotReport = z.infer<typeof SlotReport>

/** A release ready to install: verified and complete in this node's release store. */
export interface InstallSource {
  release: Release
  /** The store directory holding every file of the release (a netboot image directory). */
  dir: string
}

/**
 * One interface, every kind of machine. Each method persists the new state before it
 * returns, so a power cut at any point leaves the machine bootable: on its good slot,
 * or on the tried one with fewer tries left.
 */
export interface BootSlots {
  readonly kind: SlotReport['kind']
  /** The releases this machine can boot. */
  readonly arch: ReleaseArch
  /** What is booted, what is installed where, tries left, the last good slot, the last fallback. */
  report(): Promise<SlotReport>
  /**
   * Writes the release into the inactive slot (neither committed nor booted) and resets
   * the try counter, so a leftover try flag never forces a fallback (or a boot of a
   * half-written slot). Installing what that slot already holds only resets the counter.
   */
  install(source: InstallSource): Promise<SlotReport>
  /** Boot the installed inactive slot at the next boot, at most `tries` times, until markGood. */
  tryNext(tries: number): Promise<SlotReport>
  /** Commit the booted slot (after the health gate): it becomes the good slot. */
  markGood(): Promise<SlotReport>
  /** Forget the tried slot: the next boot is the good slot again. */
  fallBack(): Promise<SlotReport>
  /**
   * Restart the machine into whatever the state now says (lab: the agent exits and the
   * launcher boots again; a VM or board: a real reboot; Pi: `reboot '0 tryboot'` when a
   * slot is being tried). Resolves when the reboot was asked for; the process ends soon after.
   */
  reboot(): Promise<void>
  /**
   * Netboot only: the CA-signed order the next change carries to a voter (the machine's
   * state is in etcd, and a voter checks the order again before changing it).
   */
  takeOrder?(signed: string): void
  /**
   * Netboot only: install from the order alone. The slot is the release its serving nodes
   * offer, so they must hold it (a boot is refused otherwise), not this machine: a diskless
   * machine need not keep a copy of every release in RAM.
   */
  installOrdered?(): Promise<SlotReport>
}
