import type { Random } from '../../agent/core/random.js'
import { checkSlotOrder, type SlotOrderBody } from '../../agent/slots/order.js'
import {
  boot,
  fallBack,
  install,
  markGood,
  provisionedBootState,
  slotReport,
  tryNext,
} from '../../agent/slots/tries.js'
import type { BootState, SlotContent, SlotReport } from '../../agent/slots/types.js'
import type { TargetRelease } from '../../control/rollout/record.js'
import type { SimAgent, SimCluster } from './cluster.js'

// One simulated machine's boot slots: the production try counting (agent/slots/tries.ts)
// plays the firmware at every power-on, and slot orders are checked by the production
// checkSlotOrder (CA signature, node, replay) and acted on as the slots service does
// (agent/slots/service.ts `act`, modelled: the service keeps its last order in a file).
// A release in `bad` never starts: its agent dies at boot, so the firmware boots again
// after a while and, its tries spent, falls back to the good slot.

/** A machine takes this long to boot into its agent (and again after a failed boot). */
const BOOT_MS = 2000
const BOOT_JITTER_MS = 2000
/** The service reboots this long after it answered the order. */
const REBOOT_AFTER_MS = 300

export interface MachineEnv {
  cluster: SimCluster
  random: Random
  caPem: string
  clusterId: string
  arch: 'amd64' | 'arm64'
  /** Releases whose agent dies at boot. */
  bad: ReadonlySet<string>
  /** Told as the machine goes down for a reboot an order asked for, and when its agent runs again. */
  onRebooting(a: SimAgent): void
  onBooted(a: SimAgent, booted: SlotContent | null): void
  /** Called before a deliberate reboot: the agent stops cleanly (its rollout controller lets its lock go). */
  stopAgent(a: SimAgent): Promise<void>
}

export class SimMachine {
  state: BootState
  private lastSeq = 0
  /** Powered (the firmware is booting or the agent runs). */
  private powered = false
  private epoch = 0

  constructor(
    readonly agent: SimAgent,
    provisioned: SlotContent,
    private readonly env: MachineEnv,
  ) {
    this.state = provisionedBootState(provisioned)
  }

  get isPowered(): boolean {
    return this.powered
  }

  report(): SlotReport {
    return slotReport(this.state, 'lab', this.env.arch)
  }

  /** Power on: the firmware picks a slot; a bad release's agent never comes up (booted again later). */
  powerOn(): void {
    if (this.powered) return
    this.powered = true
    this.firmware(++this.epoch)
  }

  /** Power cut (a crash fault): the agent dies and nothing boots until powered on. */
  powerOff(): void {
    this.powered = false
    this.epoch++
    if (this.agent.node.isUp()) this.agent.node.crash()
  }

  private firmware(epoch: number): void {
    const c = this.env.cluster
    const b = boot(this.state, this.wallMs())
    this.state = b.state
    const content = b.slot ? this.state.slots[b.slot] : null
    const delay = BOOT_MS + this.env.random.next() * BOOT_JITTER_MS
    c.sched.after(delay, () => {
      if (this.epoch !== epoch || !this.powered) return
      if (!content || this.env.bad.has(content.releaseId)) {
        this.firmware(epoch)
        return
      }
      c.versions[this.agent.index] = content.version
      this.agent.node.start()
      this.env.onBooted(this.agent, content)
    })
  }

  /** POST /api/v1/slots/order: refused (false) unless the CA signed it for this node and it is not a replay. */
  order(text: string): boolean {
    if (!this.agent.node.isUp()) return false
    const check = checkSlotOrder(text, {
      caPem: this.env.caPem,
      clusterId: this.env.clusterId,
      nodeId: this.agent.id,
      lastSeq: this.lastSeq,
    })
    if (!check.ok) return false
    if (check.repeat) return true
    const ok = this.act(check.body)
    if (ok) this.lastSeq = check.body.version
    return ok
  }

  private act(o: SlotOrderBody): boolean {
    const s = this.state
    const r = this.report()
    switch (o.action) {
      case 'install': {
        const id = o.release?.id
        if (!id) return false
        if (
          (['a', 'b'] as const).some(
            (x) => x !== r.good && x !== r.booted && r.installed[x]?.releaseId === id,
          )
        )
          return true
        return this.step(install(s, { releaseId: id, version: o.release?.version ?? '', installedAtMs: 0 }))
      }
      case 'try':
        if (r.trying && r.booted !== r.trying) return true
        return this.step(tryNext(s, o.tries ?? 3))
      case 'reboot':
        if (r.trying && r.booted !== r.trying) this.rebootSoon()
        return true
      case 'commit':
        return this.step(markGood(s))
      case 'fallback': {
        const f = fallBack(s, this.wallMs())
        this.state = f.state
        if (f.needsReboot) this.rebootSoon()
        return true
      }
    }
  }

  /** The machine's clock (its firmware and agent share it; clock jumps move it). */
  private wallMs(): number {
    return Math.floor(this.agent.node.proc.clock().nowMs())
  }

  private step(r: { ok: true; state: BootState } | { ok: false; error: string }): boolean {
    if (r.ok) this.state = r.state
    return r.ok
  }

  /** The agent stops cleanly, then the machine boots again (the lab backend's restart). */
  private rebootSoon(): void {
    const epoch = this.epoch
    this.agent.node.proc.clock().setTimeout(() => {
      void this.env.stopAgent(this.agent).then(() => {
        if (this.epoch !== epoch || !this.powered) return
        this.env.onRebooting(this.agent)
        this.powerOff()
        this.powerOn()
      })
    }, REBOOT_AFTER_MS)
  }
}

export function contentOf(t: TargetRelease): SlotContent {
  return { releaseId: t.id, version: t.version, installedAtMs: 0 }
}
