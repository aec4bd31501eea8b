import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { ReleaseArch } from '../release/manifest.js'
import type { NetbootSlotRecord } from './netboot-decide.js'
import type { NetbootSlotsClient } from './netboot-store.js'
import { fallBack, slotReport } from './tries.js'
import type { BootSlots, BootState, InstallSource, SlotReport } from './types.js'

// A netbooted machine's boot slots, seen from its own agent. Nothing is written on the
// machine: its slots are the releases the serving nodes offer its MAC, kept in etcd
// (netboot-decide.ts). Installing, trying, committing and falling back each carry the
// CA-signed slot order this agent was given (service.ts hands it over) to a voter, which
// checks it and changes the MAC's record; a reboot boots whatever the record says.

export interface NetbootSlotsDeps {
  mac: string
  arch: ReleaseArch
  client: NetbootSlotsClient
  /** The release this machine booted (its kernel command line's image id) and its version. */
  running(): { id: string; version: string } | null
  log: Logger
  /** Stops the agent; the CLI then reboots the machine (cli/commands/agent.ts). */
  restart(): void
}

export class NetbootSlots implements BootSlots {
  readonly kind = 'netboot' as const
  readonly arch: ReleaseArch
  private order: string | null = null

  constructor(private readonly d: NetbootSlotsDeps) {
    this.arch = d.arch
  }

  /** The signed order the next change carries (the slots service verified it first). */
  takeOrder(signed: string): void {
    this.order = signed
  }

  async report(): Promise<SlotReport> {
    const rec = await this.d.client.read(this.d.mac)
    return slotReport(rec ? rec.state : this.unrecorded(), this.kind, this.arch)
  }

  /** No record yet: the machine runs what it was served, on slot a, committed. */
  private unrecorded(): BootState {
    const r = this.running()
    const a = { releaseId: r.id, version: r.version, installedAtMs: 0 }
    return {
      v: 1,
      slots: { a, b: null },
      good: 'a',
      trying: null,
      triesLeft: 0,
      booted: 'a',
      boots: 1,
      lastFallback: null,
    }
  }

  private running(): { id: string; version: string } {
    const r = this.d.running()
    if (!r)
      throw new HomecloudError(
        'SLOT_FAILED',
        'this netbooted machine does not know the release it booted (no homecloud.image on its kernel command line)',
        'boot it from a serving node',
      )
    return r
  }

  private async change(what: string): Promise<NetbootSlotRecord | null> {
    const order = this.order
    this.order = null
    if (!order)
      throw new HomecloudError(
        'SLOT_REFUSED',
        `${what}: a netbooted machine's slots change only with a signed slot order`,
        'see `homecloud upgrade status`',
      )
    this.d.log.info({ mac: this.d.mac, what }, 'netboot slots: asking a voter')
    return this.d.client.change({ mac: this.d.mac, arch: this.arch, order, running: this.running() })
  }

  private async after(rec: NetbootSlotRecord | null): Promise<SlotReport> {
    return rec ? slotReport(rec.state, this.kind, this.arch) : this.report()
  }

  async install(_source: InstallSource): Promise<SlotReport> {
    return this.installOrdered()
  }

  /** The order names the release; the voter records it, and the serving nodes must hold it to boot it. */
  async installOrdered(): Promise<SlotReport> {
    return this.after(await this.change('install'))
  }

  async tryNext(_tries: number): Promise<SlotReport> {
    return this.after(await this.change('try'))
  }

  async markGood(): Promise<SlotReport> {
    return this.after(await this.change('commit'))
  }

  async fallBack(): Promise<SlotReport> {
    const before = await this.d.client.read(this.d.mac)
    const r = await this.after(await this.change('fallback'))
    // Running an uncommitted release: boot again, the serving nodes offer the good one.
    if (before && fallBack(before.state, 0).needsReboot) await this.reboot()
    return r
  }

  async reboot(): Promise<void> {
    this.d.log.info('rebooting: the serving nodes offer this MAC its slot')
    this.d.restart()
  }
}
