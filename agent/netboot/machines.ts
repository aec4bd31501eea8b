import type { Clock } from '../core/clock.js'

// The machines this node answered (pure state, bounded, expiring). Only the node that
// served a machine's boot script (SERVING_STAGES) hands that machine its join material, and each
// machine's boot stages are kept here with this node's clock (the benchmark reads them).

export const STAGES = [
  'dhcp',
  'tftp',
  'ipxe',
  'grub',
  'rpi-boot',
  'kernel-download',
  'initrd-download',
  'kernel',
  'verified',
  'agent-start',
  'join-material',
  'failed',
  'agent-exit',
] as const
export type Stage = (typeof STAGES)[number]
/**
 * The stages that make a machine "served by this node": its iPXE or GRUB script came from
 * here, or (a Raspberry Pi) its cmdline.txt went out over our TFTP.
 */
export const SERVING_STAGES: readonly Stage[] = ['ipxe', 'grub', 'rpi-boot']

export interface MachineEntry {
  mac: string
  arch: string | null
  firstSeenMs: number
  /** When this node served its boot script (null: seen only in DHCP/TFTP). */
  servedMs: number | null
  /** First time of each stage, this node's wall clock. */
  stages: Partial<Record<Stage, number>>
  /** The last failure the machine reported (its console says the same). */
  failure: string | null
}

export interface MachineBookLimits {
  machinesMax: number
  /** A served machine may fetch its join material this long after its script. */
  joinWindowMs: number
  /** Entries untouched this long are forgotten. */
  entryTtlMs: number
}

export const machineBookLimitsDefault: MachineBookLimits = {
  machinesMax: 1024,
  joinWindowMs: 15 * 60_000,
  entryTtlMs: 24 * 3600_000,
}

export class MachineBook {
  private readonly entries = new Map<string, MachineEntry & { touchedMs: number }>()
  /** Address → MAC, for requests that carry no MAC (iPXE fetching the kernel, TFTP). */
  private readonly addresses = new Map<string, string>()

  constructor(
    private readonly clock: Pick<Clock, 'nowMs'>,
    private readonly limits: MachineBookLimits = machineBookLimitsDefault,
  ) {}

  /** Records a stage (the first occurrence wins; a serving stage also marks the machine as served by us). */
  note(mac: string, stage: Stage, extra: { arch?: string; failure?: string } = {}): MachineEntry {
    const now = this.clock.nowMs()
    this.expire(now)
    let e = this.entries.get(mac)
    if (!e) {
      e = { mac, arch: null, firstSeenMs: now, servedMs: null, stages: {}, failure: null, touchedMs: now }
      this.entries.set(mac, e)
      this.evict()
    }
    e.touchedMs = now
    e.stages[stage] ??= now
    if (SERVING_STAGES.includes(stage)) e.servedMs = now
    if (extra.arch) e.arch = extra.arch
    if (extra.failure) e.failure = extra.failure
    // Map order doubles as least-recently-touched order for eviction.
    this.entries.delete(mac)
    this.entries.set(mac, e)
    return e
  }

  /** True when this node served the machine's boot script recently enough to hand it join material. */
  servedRecently(mac: string): boolean {
    const e = this.entries.get(mac)
    return !!e && e.servedMs !== null && this.clock.nowMs() - e.servedMs <= this.limits.joinWindowMs
  }

  noteAddress(ip: string, mac: string): void {
    const addr = ip.replace(/^::ffff:/, '')
    this.addresses.delete(addr)
    this.addresses.set(addr, mac)
    while (this.addresses.size > this.limits.machinesMax) {
      const oldest = this.addresses.keys().next().value
      if (oldest === undefined) break
      this.addresses.delete(oldest)
    }
  }

  macAt(ip: string): string | undefined {
    return this.addresses.get(ip.replace(/^::ffff:/, ''))
  }

  get(mac: string): MachineEntry | undefined {
    return this.entries.get(mac)
  }

  all(): MachineEntry[] {
    this.expire(this.clock.nowMs())
    return [...this.entries.values()].map(({ touchedMs: _t, ...e }) => ({ ...e, stages: { ...e.stages } }))
  }

  private expire(now: number): void {
    for (const [mac, e] of this.entries)
      if (now - e.touchedMs > this.limits.entryTtlMs) this.entries.delete(mac)
  }

  private evict(): void {
    while (this.entries.size > this.limits.machinesMax) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }
}
