import { join } from 'node:path'
import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import { AUTOBOOT_FILE, renderAutobootTxt, slotFilesFor } from './rpi-files.js'
import { RpiBook, rpiAtStart, rpiBeforeReboot, rpiTryNext } from './rpi-state.js'
import { fillSlot, readSlotContent } from './slot-files.js'
import * as tries from './tries.js'
import type { BootSlots, BootState, InstallSource, SlotName, SlotReport } from './types.js'

// The BootSlots of a Raspberry Pi (4/5) booting from its SD card or SSD with the
// firmware's tryboot (rpi-files.ts, rpi-state.ts). The firmware keeps no counter, so the
// agent keeps the BootState in a book on the boot partition and reconciles it once per
// boot (the kernel's boot id tells a new boot from an agent restart) with the slot the
// command line says booted.

export interface RpiSlotsDeps {
  /** The mounted boot partition (autoboot.txt; homecloud/slots.json). */
  bootDir: string
  /** Where slot a and b are mounted, and their FAT volume ids (cmdline.txt names them). */
  slots: { a: string; b: string }
  volumeIds: { a: string; b: string }
  /** This boot: /proc/sys/kernel/random/boot_id and the command line's homecloud.slot=. */
  bootId: string
  bootedSlot: SlotName
  clock: Pick<Clock, 'nowMs'>
  /** `reboot '0 tryboot'` when `tryboot`, else an ordinary reboot; resolves when asked. */
  reboot: (tryboot: boolean) => Promise<void>
  /** The firmware booted a slot the book did not expect (a hand-edited autoboot.txt). */
  onUnexpected?: (bootedSlot: SlotName) => void
}

const SlotsFile = z.object({ v: z.literal(1), bootId: z.string().max(64), book: RpiBook }).strict()
type SlotsFile = z.infer<typeof SlotsFile>

export class RpiTrybootSlots implements BootSlots {
  readonly kind = 'rpi-tryboot' as const
  readonly arch = 'arm64' as const
  private readonly bookPath: string

  constructor(private readonly deps: RpiSlotsDeps) {
    this.bookPath = join(deps.bootDir, 'homecloud', 'slots.json')
  }

  /** The book, reconciled with this boot the first time it is read in it. */
  private async load(): Promise<RpiBook> {
    const file = await readJsonFile(this.bookPath, SlotsFile, {
      code: 'SLOT_FAILED',
      what: 'the Pi slot book',
      hint: 'the boot partition is damaged: write the disk image again',
    })
    const slots = { a: await readSlotContent(this.deps.slots.a), b: await readSlotContent(this.deps.slots.b) }
    const stored: RpiBook = file?.book ?? {
      v: 1,
      state: { ...tries.emptyBootState(), good: this.deps.bootedSlot },
      precounted: false,
    }
    // What the slots hold is read from the slots themselves (a cut install has no slot.json).
    const book = { ...stored, state: { ...stored.state, slots } }
    if (file?.bootId === this.deps.bootId) return book
    const r = rpiAtStart(book, this.deps.bootedSlot, this.deps.clock.nowMs())
    if (r.unexpected) this.deps.onUnexpected?.(this.deps.bootedSlot)
    await this.save(r.book)
    return r.book
  }

  /** The book first, then autoboot.txt from it: the firmware only follows what is recorded. */
  private async save(book: RpiBook): Promise<SlotReport> {
    const file: SlotsFile = { v: 1, bootId: this.deps.bootId, book }
    await writeFileAtomic(this.bookPath, `${JSON.stringify(SlotsFile.parse(file))}\n`, 0o644)
    await writeFileAtomic(join(this.deps.bootDir, AUTOBOOT_FILE), renderAutobootTxt(book.state), 0o644)
    return tries.slotReport(book.state, this.kind, this.arch)
  }

  private async move(state: BootState): Promise<SlotReport> {
    return this.save({ v: 1, state, precounted: false })
  }

  async report(): Promise<SlotReport> {
    return tries.slotReport((await this.load()).state, this.kind, this.arch)
  }

  async install(source: InstallSource): Promise<SlotReport> {
    const { state } = await this.load()
    const { slot, content, writing, next } = tries.planInstall(state, source.release, this.deps.clock.nowMs())
    // No tryboot may name the slot while it is written.
    await this.move(writing)
    await fillSlot(this.deps.slots[slot], {
      releaseDir: source.dir,
      manifestFiles: source.release.manifest.files,
      extra: slotFilesFor('arm64', slot, this.deps.volumeIds[slot]),
      content,
    })
    return this.move(next)
  }

  /** One try whatever is asked: the firmware honours one (the report says triesLeft 1). */
  async tryNext(n: number): Promise<SlotReport> {
    const { state } = await this.load()
    return this.move(tries.stepOrThrow(rpiTryNext(state, n), 'try the next slot'))
  }

  async markGood(): Promise<SlotReport> {
    const { state } = await this.load()
    return this.move(tries.stepOrThrow(tries.markGood(state), 'commit the booted slot'))
  }

  async fallBack(): Promise<SlotReport> {
    const { state } = await this.load()
    return this.move(tries.fallBack(state, this.deps.clock.nowMs()).state)
  }

  /** Counts a try before `reboot '0 tryboot'`: a tried kernel that panics never runs the agent. */
  async reboot(): Promise<void> {
    const { state } = await this.load()
    const r = rpiBeforeReboot(state, this.deps.clock.nowMs())
    await this.save(r.book)
    await this.deps.reboot(r.tryboot)
  }
}
