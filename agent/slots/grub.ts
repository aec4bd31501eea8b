import { readFile } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import type { ReleaseArch } from '../release/manifest.js'
import { emptyGrubBook, GrubBook, grubBookFor, grubEnvFor, settleGrub } from './grub-state.js'
import { type GrubEnv, parseGrubEnv, renderGrubEnv, withGrubEnv } from './grubenv.js'
import { fillSlot, readSlotContent } from './slot-files.js'
import * as tries from './tries.js'
import type { BootSlots, BootState, InstallSource, SlotReport } from './types.js'

// The BootSlots of a machine that boots from its own disk through GRUB (amd64 BIOS/UEFI,
// arm64 UEFI). GRUB plays the firmware (grub-script.ts); this is the booted system's
// side, over the mounted boot partition (grubenv, the book) and the two mounted slots.
// Every change settles what GRUB left first (boots, a fallback), moves the state through
// tries.ts and writes grubenv back whole — GRUB finds the new file at the next boot.

export interface GrubSlotsPaths {
  /** grub/grubenv on the boot partition. */
  grubenv: string
  /** The agent's book beside it (boots, the last fallback): GrubBook JSON. */
  book: string
  /** Where slot a and b are mounted. */
  slots: { a: string; b: string }
}

export interface GrubSlotsDeps {
  arch: ReleaseArch
  paths: GrubSlotsPaths
  clock: Pick<Clock, 'nowMs'>
  /** Restart the machine (`systemctl reboot` or `reboot -f`); resolves when asked. */
  reboot: () => Promise<void>
}

const failed = (message: string) =>
  new HomecloudError('SLOT_FAILED', message, 'the boot partition is damaged: write the disk image again')

export class GrubBootSlots implements BootSlots {
  readonly kind = 'grub' as const
  readonly arch: ReleaseArch

  constructor(private readonly deps: GrubSlotsDeps) {
    this.arch = deps.arch
  }

  private async readEnv(): Promise<GrubEnv> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.deps.paths.grubenv)
    } catch (err) {
      throw failed(`cannot read ${this.deps.paths.grubenv}: ${(err as Error).message}`)
    }
    const r = parseGrubEnv(bytes)
    if (!r.ok) throw failed(`${this.deps.paths.grubenv}: ${r.error}`)
    return r.env
  }

  private async writeEnv(env: GrubEnv): Promise<void> {
    await writeFileAtomic(this.deps.paths.grubenv, renderGrubEnv(env), 0o644)
  }

  private async writeBook(book: GrubBook): Promise<void> {
    await writeFileAtomic(this.deps.paths.book, `${JSON.stringify(GrubBook.parse(book))}\n`, 0o644)
  }

  /** The state with what GRUB left folded in (book first: a cut in between counts boots twice, never loses one). */
  private async load(): Promise<{ env: GrubEnv; state: BootState }> {
    const { paths } = this.deps
    const env = await this.readEnv()
    const book =
      (await readJsonFile(paths.book, GrubBook, {
        code: 'SLOT_FAILED',
        what: 'the GRUB slot book',
        hint: 'the boot partition is damaged: write the disk image again',
      })) ?? emptyGrubBook()
    const slots = { a: await readSlotContent(paths.slots.a), b: await readSlotContent(paths.slots.b) }
    const settled = settleGrub({ env, slots, book }, this.deps.clock.nowMs())
    if (!settled.envChanges) return { env, state: settled.state }
    await this.writeBook(settled.book)
    const next = withGrubEnv(env, settled.envChanges)
    await this.writeEnv(next)
    return { env: next, state: settled.state }
  }

  private async save(env: GrubEnv, s: BootState): Promise<SlotReport> {
    await this.writeBook(grubBookFor(s))
    await this.writeEnv(withGrubEnv(env, grubEnvFor(s)))
    return tries.slotReport(s, this.kind, this.arch)
  }

  async report(): Promise<SlotReport> {
    return tries.slotReport((await this.load()).state, this.kind, this.arch)
  }

  async install(source: InstallSource): Promise<SlotReport> {
    const { env, state } = await this.load()
    const { slot, content, writing, next } = tries.planInstall(state, source.release, this.deps.clock.nowMs())
    // No try may point at the slot while it is written (fillSlot removes its slot.json first).
    await this.save(env, writing)
    await fillSlot(this.deps.paths.slots[slot], {
      releaseDir: source.dir,
      manifestFiles: source.release.manifest.files,
      extra: {},
      content,
    })
    return this.save(withGrubEnv(env, grubEnvFor(writing)), next)
  }

  async tryNext(n: number): Promise<SlotReport> {
    const { env, state } = await this.load()
    return this.save(env, tries.stepOrThrow(tries.tryNext(state, n), 'try the next slot'))
  }

  async markGood(): Promise<SlotReport> {
    const { env, state } = await this.load()
    return this.save(env, tries.stepOrThrow(tries.markGood(state), 'commit the booted slot'))
  }

  async fallBack(): Promise<SlotReport> {
    const { env, state } = await this.load()
    return this.save(env, tries.fallBack(state, this.deps.clock.nowMs()).state)
  }

  reboot(): Promise<void> {
    return this.deps.reboot()
  }
}
