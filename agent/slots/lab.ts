import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { ReleaseArch } from '../release/manifest.js'
import { unpackBundle } from './bundle.js'
import { readBootStateFile, writeBootStateFile } from './state-file.js'
import { fallBack, inactiveSlot, install, markGood, slotReport, stepOrThrow, tryNext } from './tries.js'
import type { BootSlots, BootState, InstallSource, SlotReport } from './types.js'

// A lab node's boot slots: `<node dir>/slots/{a,b}/` each hold an unpacked agent bundle,
// and `boot.json` the BootState. The lab launcher's firmware (lab/firmware.ts) reads it
// at every power-on, counts the try and starts the agent from the chosen slot's own
// bundle; this side (the running agent) installs, tries, commits and falls back. A
// reboot is the agent exiting: the firmware boots again.

export const BOOT_FILE = 'boot.json'

export function hostArch(): ReleaseArch {
  return process.arch === 'arm64' ? 'arm64' : 'amd64'
}

export interface LabSlotsComponents {
  clock: Clock
  log: Logger
  /** Stops this agent so the firmware boots again (the lab's power cycle). */
  restart(): void
}

export class LabSlots implements BootSlots {
  readonly kind = 'lab' as const
  readonly arch = hostArch()
  /** One change at a time: each reads, steps and writes the whole state. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly dir: string,
    private readonly c: LabSlotsComponents,
  ) {}

  private get file(): string {
    return join(this.dir, BOOT_FILE)
  }

  private async load(): Promise<BootState> {
    const s = await readBootStateFile(this.file)
    if (!s)
      throw new HomecloudError(
        'SLOT_FAILED',
        `${this.file} does not exist`,
        'this lab node was started without slots',
      )
    return s
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn)
    this.chain = next.catch(() => {})
    return next
  }

  private async save(s: BootState): Promise<SlotReport> {
    await writeBootStateFile(this.file, s)
    return slotReport(s, this.kind, this.arch)
  }

  async report(): Promise<SlotReport> {
    return slotReport(await this.load(), this.kind, this.arch)
  }

  install(source: InstallSource): Promise<SlotReport> {
    return this.serial(async () => {
      const s = await this.load()
      const slot = inactiveSlot(s)
      if (!slot)
        stepOrThrow(install(s, { releaseId: source.release.id, version: 'x', installedAtMs: 0 }), 'install')
      const target = slot as 'a' | 'b'
      // Forget the slot and any try first: a power cut while unpacking never boots half a slot.
      await writeBootStateFile(this.file, {
        ...s,
        slots: { ...s.slots, [target]: null },
        trying: null,
        triesLeft: 0,
      })
      this.c.log.info(
        { slot: target, release: source.release.id, version: source.release.manifest.version },
        'installing into slot',
      )
      await unpackBundle(source.release, source.dir, join(this.dir, target))
      const content = {
        releaseId: source.release.id,
        version: source.release.manifest.version,
        installedAtMs: this.c.clock.nowMs(),
      }
      return this.save(stepOrThrow(install(await this.load(), content), 'install'))
    })
  }

  tryNext(tries: number): Promise<SlotReport> {
    return this.serial(async () => this.save(stepOrThrow(tryNext(await this.load(), tries), 'try')))
  }

  markGood(): Promise<SlotReport> {
    return this.serial(async () => this.save(stepOrThrow(markGood(await this.load()), 'commit')))
  }

  fallBack(): Promise<SlotReport> {
    return this.serial(async () => {
      const f = fallBack(await this.load(), this.c.clock.nowMs())
      const r = await this.save(f.state)
      if (f.needsReboot) await this.reboot()
      return r
    })
  }

  async reboot(): Promise<void> {
    this.c.log.info('rebooting: the lab firmware boots this node again')
    this.c.restart()
  }
}
