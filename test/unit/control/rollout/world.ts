import { foldSuccessors } from '../../../../agent/mesh/successors.js'
import {
  boot,
  fallBack,
  install,
  markGood,
  provisionedBootState,
  slotReport,
  tryNext,
} from '../../../../agent/slots/tries.js'
import type { BootState, SlotContent } from '../../../../agent/slots/types.js'
import type { RolloutBody, TargetRelease } from '../../../../control/rollout/record.js'
import type {
  ObservedCluster,
  RolloutEffect,
  RolloutNode,
  RolloutPolicy,
} from '../../../../control/rollout/types.js'

// A model cluster for the rollout's pure decision: each node's boot slots move through
// the real try counting (agent/slots/tries.ts); effects change the model the way the
// shell's adapters change the real cluster. A release in `badIds` never starts: its
// agent dies at boot, so the firmware falls back after its tries.

export const sha = (n: number) => n.toString(16).padStart(64, '0')
export const v1: TargetRelease = { id: sha(1), version: '1.0.0' }
export const v2: TargetRelease = { id: sha(2), version: '2.0.0' }
export const v3: TargetRelease = { id: sha(3), version: '3.0.0' }

export interface ModelNode {
  id: string
  name: string
  voter: boolean
  boot: BootState
  up: boolean
  deadSinceMs: number | null
  unschedulable: boolean
  cordonedByUs: boolean
  drainStatus: 'drained' | 'gave-up' | null
  drainMessage: string | null
  /** Why homecloud drained it (`shutdown`: it drained itself to stop). */
  drainReason?: string
  /** Pods a drain cannot evict (a PDB blocks): the drain times out. */
  pdbBlocks: string | null
  startedAtMs: number
  daemonPods: number
  /** A netbooted machine: state in RAM, so every boot is a new member with a new id. */
  netbooted?: { mac: string; boots: number }
}

export class World {
  nowMs = 1_000_000
  /** holder 'rollout' is this coordinator; token grows with every new holder (etcd's create revision). */
  lock: { holder: string | null; node: string | null; token: number } = { holder: null, node: null, token: 0 }
  record: RolloutBody | null = null
  current: Record<string, string> = {}
  readonly log: string[] = []
  /** Most nodes cordoned at the same time, seen after every effect. */
  cordonedMax = 0
  badIds = new Set<string>()
  leaderSinceMs = 0
  votersHealthy: number | null = null
  /** Nodes no longer members (revoked), with why; `hidden` ones are gone from the mesh view too. */
  left: Record<string, string> = {}
  readonly hidden = new Set<string>()
  /** How long the coordinator's mesh view has not grown (undefined: settled). */
  viewAgeMs: number | undefined = undefined
  readonly nodes: ModelNode[]
  /** The members a netbooted machine was before its last boots, dead in the mesh. */
  readonly former: RolloutNode[] = []

  constructor(
    names: { name: string; voter: boolean }[],
    readonly policy: RolloutPolicy,
  ) {
    const content: SlotContent = { releaseId: v1.id, version: v1.version, installedAtMs: 0 }
    this.nodes = names.map((n, i) => ({
      id: `id${i}`,
      name: n.name,
      voter: n.voter,
      boot: boot(provisionedBootState(content), 0).state,
      up: true,
      deadSinceMs: null,
      unschedulable: false,
      cordonedByUs: false,
      drainStatus: null,
      drainMessage: null,
      pdbBlocks: null,
      startedAtMs: 0,
      daemonPods: 1,
    }))
  }

  node(name: string): ModelNode {
    const n = this.nodes.find((x) => x.name === name || x.id === name)
    if (!n) throw new Error(`no node ${name}`)
    return n
  }

  /** Boot like firmware: a bad release dies at start, and the firmware boots again. */
  powerOn(n: ModelNode): void {
    for (let i = 0; i < 20; i++) {
      const b = boot(n.boot, this.nowMs)
      n.boot = b.state
      const running = b.slot ? n.boot.slots[b.slot] : null
      if (running && !this.badIds.has(running.releaseId)) break
    }
    if (n.netbooted) {
      // The old member stays in the mesh, dead; the machine joins again under a new key.
      this.former.push({ ...this.view(n, ''), alive: false, deadSinceMs: this.nowMs, slots: null })
      n.netbooted.boots++
      n.id = `${n.name}#${n.netbooted.boots}`
    }
    n.up = true
    n.deadSinceMs = null
    n.startedAtMs = this.nowMs
  }

  observe(coordinator = 'id0'): ObservedCluster {
    const voters = this.nodes.filter((n) => n.voter)
    return {
      nowMs: this.nowMs,
      // As the shell's mesh view: a netbooted machine's former members fold into it.
      nodes: foldSuccessors(
        [
          ...this.nodes.filter((n) => !this.hidden.has(n.id)).map((n) => this.view(n, coordinator)),
          ...this.former,
        ].map((v) => {
          const m = this.nodes.find((n) => n.name === v.name)?.netbooted
          return m ? { ...v, ramOnly: true, macs: [m.mac] } : v
        }),
      ),
      etcd: {
        votersTotal: voters.length,
        votersHealthy: this.votersHealthy ?? voters.filter((n) => n.up).length,
        votersTarget: 3,
        leader: 'id0',
        leaderSinceMs: this.leaderSinceMs,
      },
      lock: {
        state: this.lock.holder === null ? 'free' : this.lock.holder === 'rollout' ? 'ours' : 'other',
        holder: this.lock.holder,
        node: this.lock.holder === null ? null : this.lock.node,
        token: this.lock.holder === null ? null : this.lock.token,
      },
      drain: null,
      kube: true,
      left: this.left,
      ...(this.viewAgeMs !== undefined ? { viewAgeMs: this.viewAgeMs } : {}),
    }
  }

  private view(n: ModelNode, coordinator: string): RolloutNode {
    const booted = n.boot.booted ? n.boot.slots[n.boot.booted] : null
    return {
      id: n.id,
      name: n.name,
      alive: n.up,
      deadSinceMs: n.up ? null : n.deadSinceMs,
      voter: n.voter,
      coordinator: n.id === coordinator,
      version: n.up ? (booted?.version ?? null) : null,
      startedAtMs: n.startedAtMs,
      slots: n.up ? slotReport(n.boot, 'lab', 'amd64') : null,
      slotsError: n.up ? null : 'connect ECONNREFUSED',
      kube: {
        ready: n.up,
        kubeletVersion: 'v1.37.1',
        unschedulable: n.unschedulable,
        cordonedByHomecloud: n.cordonedByUs,
        drainStatus: n.drainStatus,
        drainMessage: n.drainMessage,
        drainReason: n.drainReason ?? null,
        daemonPodsReady: n.up ? n.daemonPods : 0,
        heartbeatMs: n.up ? this.nowMs : null,
      },
      etcdHealthy: n.voter && n.up, // as the shell: only etcd voters are health-checked
    }
  }

  apply(e: RolloutEffect): void {
    this.log.push(describe(e))
    switch (e.kind) {
      case 'record':
        this.record = e.body
        break
      case 'take-lock':
        if (this.lock.holder !== null && this.lock.holder !== 'rollout') throw new Error('LOCK_HELD')
        this.lock = { holder: 'rollout', node: e.node, token: this.lock.token + 1 }
        break
      case 'take-over-lock':
        // Fenced: only the lock that was observed is broken.
        if (this.lock.holder !== null && this.lock.token !== e.token) throw new Error('LOCK_HELD (changed)')
        this.lock = { holder: 'rollout', node: e.node, token: this.lock.token + 1 }
        break
      case 'release-lock':
        if (this.lock.holder === 'rollout') this.lock = { ...this.lock, holder: null, node: null }
        break
      case 'drain':
        this.drain(this.node(e.node))
        break
      case 'undrain': {
        const n = this.node(e.node)
        if (n.cordonedByUs) n.unschedulable = false
        n.cordonedByUs = false
        n.drainStatus = null
        n.drainMessage = null
        delete n.drainReason
        break
      }
      case 'order':
        this.order(this.node(e.node), e)
        break
      case 'set-current':
        this.current[e.arch] = e.release.version
        break
    }
    this.cordonedMax = Math.max(this.cordonedMax, this.nodes.filter((n) => n.unschedulable).length)
  }

  private drain(n: ModelNode): void {
    if (this.lock.holder !== 'rollout') throw new Error('drain without the lock')
    n.unschedulable = true
    n.cordonedByUs = true
    n.drainStatus = n.pdbBlocks ? 'gave-up' : 'drained'
    n.drainMessage = n.pdbBlocks
  }

  private order(n: ModelNode, e: Extract<RolloutEffect, { kind: 'order' }>): void {
    if (!n.up) throw new Error(`${n.name} is down`)
    const ok = (r: { ok: true; state: BootState } | { ok: false; error: string }) => {
      if (!r.ok) throw new Error(r.error)
      n.boot = r.state
    }
    switch (e.action) {
      case 'install': {
        const t = e.release as TargetRelease
        ok(install(n.boot, { releaseId: t.id, version: t.version, installedAtMs: this.nowMs }))
        break
      }
      case 'try':
        ok(tryNext(n.boot, e.tries ?? 3))
        break
      case 'reboot':
        if (n.boot.trying && n.boot.booted !== n.boot.trying) this.powerOn(n)
        break
      case 'commit':
        ok(markGood(n.boot))
        break
      case 'fallback': {
        const f = fallBack(n.boot, this.nowMs)
        n.boot = f.state
        if (f.needsReboot) this.powerOn(n)
        break
      }
    }
  }
}

export function describe(e: RolloutEffect): string {
  switch (e.kind) {
    case 'record':
      return `record ${e.body.phase}${e.body.current ? ` ${e.body.current.name}:${e.body.current.step}` : ''}`
    case 'order':
      return `order ${e.action} ${e.node}`
    case 'take-lock':
    case 'take-over-lock':
    case 'drain':
    case 'undrain':
      return `${e.kind} ${e.node}`
    case 'set-current':
      return `set-current ${e.arch} ${e.release.version}`
    default:
      return e.kind
  }
}

export const sixNodes = [
  { name: 'pi5-1', voter: true },
  { name: 'pi5-2', voter: true },
  { name: 'pi5-3', voter: true },
  { name: 'x86-4', voter: false },
  { name: 'x86-5', voter: false },
  { name: 'x86-6', voter: false },
]
