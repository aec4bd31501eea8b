import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import type { Clock } from '../../core/clock.js'
import { Controller } from '../../core/controller.js'
import { HomecloudError } from '../../core/errors.js'
import type { LogLevel } from '../../core/lines.js'
import type { Logger } from '../../core/log.js'
import { type Random, systemRandom } from '../../core/random.js'
import { Supervisor } from '../../core/supervisor.js'
import { networkAddress, parseCidr } from './cidr.js'
import {
  desiredRoutes,
  interfaceOf,
  iptablesJumps,
  iptablesRules,
  parseRoutes,
  routeCommands,
  routeProto,
} from './host-plan.js'
import { loadOrCreateWireguardKeys, type WireguardKeys } from './keys.js'
import { type ObservedNode, type PodNetPlan, type PodNetworkMode, planPodNetwork } from './plan.js'
import { type DeviceState, deviceUpdate, parseDeviceState } from './uapi.js'
import { uapiExchange, wireguardSocketPath } from './uapi-socket.js'

// This node's end of the pod network between kubelet nodes. In `wireguard` mode (the
// default) it runs wireguard-go (userspace WireGuard over a TUN device: no kernel module
// needed) and sends every other node's pod range through it, encrypted; in `plain` mode it
// routes them to the node's address in clear (the benchmark's baseline). Every pass reads
// the Nodes, plans (plan.ts), and makes the device, the routes and two iptables chains
// match; each step is idempotent, so a pass after a crash or a restart converges.

export interface PodNetworkInit {
  nodeName: string
  /** The node's own (LAN) address: its interface carries the route to the Service range. */
  address: string
  podCidr: string
  clusterCidr: string
  serviceCidr: string
  mode: PodNetworkMode
  iface: string
  port: number
  mtu: number
  keyFile: string
  pidDir: string
  wireguardGo: string
  everyMs?: number
  /** Re-assert the iptables chains this often (kube-proxy or an admin may flush tables). */
  rulesEveryMs?: number
}

export interface PodNetworkComponents {
  clock: Clock
  log: Logger
  random?: Random
  /** Every Node with its InternalIP, podCIDR and annotations (through the API server). */
  listNodes(): Promise<ObservedNode[]>
}

export interface PodNetworkStatus {
  mode: PodNetworkMode
  iface: string | null
  peers: {
    name: string
    podCidr: string
    address: string
    handshakeAgeSec: number | null
    rxBytes: number
    txBytes: number
  }[]
  skipped: { name: string; reason: string }[]
  error: string | null
}

export class PodNetwork {
  private readonly ctl: Controller
  private keys: WireguardKeys | null = null
  private wg: Supervisor | null = null
  private plan: PodNetPlan | null = null
  private device: DeviceState | null = null
  private rulesAtMono = Number.NEGATIVE_INFINITY
  private lastError = ''

  constructor(
    private readonly init: PodNetworkInit,
    private readonly c: PodNetworkComponents,
  ) {
    // One key: the whole network is one converge-everything pass, level-triggered.
    this.ctl = new Controller(
      {
        name: 'pod-network',
        keys: () => ['pass'],
        resyncMs: init.everyMs ?? 2000,
        backoff: { initialDelayMs: 1000, delayMsMax: 10_000 },
        sync: () => this.pass(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  /** The public key to publish on the Node (wireguard mode), made on first use. */
  async publicKey(): Promise<string | null> {
    if (this.init.mode !== 'wireguard') return null
    this.keys ??= await loadOrCreateWireguardKeys(this.init.keyFile)
    return this.keys.publicKey.toString('base64')
  }

  start(): void {
    this.ctl.start()
  }

  async stop(): Promise<void> {
    await this.ctl.stop()
    await this.wg?.stop(3000)
  }

  status(): PodNetworkStatus {
    const nowSec = this.c.clock.nowMs() / 1000
    return {
      mode: this.init.mode,
      iface: this.init.mode === 'wireguard' ? this.init.iface : null,
      peers: (this.plan?.peers ?? []).map((p) => {
        const d = this.device?.peers.find(
          (x) => p.publicKey && x.publicKeyHex === p.publicKey.toString('hex'),
        )
        return {
          name: p.name,
          podCidr: p.podCidr,
          address: p.address,
          handshakeAgeSec: d?.lastHandshakeSec ? Math.max(0, Math.round(nowSec - d.lastHandshakeSec)) : null,
          rxBytes: d?.rxBytes ?? 0,
          txBytes: d?.txBytes ?? 0,
        }
      }),
      skipped: this.plan?.skipped ?? [],
      error: this.lastError || null,
    }
  }

  /** One pass: observe, plan, converge. Throws on a failure (the controller retries on its backoff). */
  async pass(): Promise<void> {
    try {
      await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n').catch(() => {})
      if (this.init.mode === 'wireguard') await this.ensureDevice()
      const plan = planPodNetwork({
        self: { name: this.init.nodeName, podCidr: this.init.podCidr },
        mode: this.init.mode,
        clusterCidr: this.init.clusterCidr,
        nodes: await this.c.listNodes(),
      })
      if (this.init.mode === 'wireguard') await this.configureDevice(plan)
      await this.applyRoutes(plan)
      await this.ensureRules()
      this.logChanges(plan)
      this.plan = plan
      this.lastError = ''
    } catch (err) {
      this.lastError = (err as Error).message
      throw err
    }
  }

  private logChanges(plan: PodNetPlan): void {
    const names = (p: PodNetPlan | null) => (p?.peers ?? []).map((x) => `${x.name}=${x.podCidr}`).join(' ')
    if (names(plan) !== names(this.plan))
      this.c.log.info(
        { peers: names(plan), skipped: plan.skipped.length },
        `pod network (${plan.mode}): peers changed`,
      )
  }

  /** wireguard-go running, its TUN device addressed, sized and up. */
  private async ensureDevice(): Promise<void> {
    const { iface, mtu } = this.init
    this.wg ??= new Supervisor(
      {
        name: 'wireguard-go',
        binary: this.init.wireguardGo,
        args: ['-f', iface],
        marker: iface,
        pidFile: join(this.init.pidDir, 'wireguard-go.pid'),
        env: { LOG_LEVEL: 'error' },
        parseLine: parseWireguardLine,
        stopGraceMs: 3000,
      },
      { logger: this.c.log, clock: this.c.clock },
    )
    if (!this.wg.active) await this.wg.start()
    const socket = wireguardSocketPath(iface)
    if (!existsSync(socket))
      throw new HomecloudError('PODNET_FAILED', `wireguard-go has not opened ${socket} yet`)
    const own = parseCidr(this.init.podCidr)!
    // The tunnel's own address is the pod range's network address (as flannel does), so
    // traffic the node itself sends to other nodes' pods has an address they route back.
    await ip(['addr', 'replace', `${networkAddress(own)}/32`, 'dev', iface])
    await ip(['link', 'set', iface, 'mtu', String(mtu), 'up'])
  }

  private async configureDevice(plan: PodNetPlan): Promise<void> {
    const socket = wireguardSocketPath(this.init.iface)
    this.keys ??= await loadOrCreateWireguardKeys(this.init.keyFile)
    const keys = this.keys
    const actual = parseDeviceState(await uapiExchange(socket, 'get=1\n\n'))
    const update = deviceUpdate(
      actual,
      { privateKey: keys.privateKey, listenPort: this.init.port, peers: plan.peers, keepaliveSec: 25 },
      this.init.port,
    )
    if (update) await uapiExchange(socket, update)
    this.device = update ? parseDeviceState(await uapiExchange(socket, 'get=1\n\n')) : actual
  }

  private async applyRoutes(plan: PodNetPlan): Promise<void> {
    const lan = interfaceOf(await ip(['-j', '-4', 'addr', 'show']), this.init.address)
    const service = lan ? { cidr: this.init.serviceCidr, dev: lan } : undefined
    const shown = await ip(['-j', 'route', 'show', 'proto', String(routeProto)])
    for (const args of routeCommands(parseRoutes(shown), desiredRoutes(plan, this.init.iface, service)))
      await ip(args)
  }

  private async ensureRules(): Promise<void> {
    if (this.c.clock.monoMs() - this.rulesAtMono < (this.init.rulesEveryMs ?? 60_000)) return
    const r = await execa('iptables-restore', ['--noflush', '-w', '5'], {
      input: iptablesRules(this.init.clusterCidr),
      reject: false,
      timeout: 15_000,
    })
    if (r.exitCode !== 0) throw podnetError(`iptables-restore: ${String(r.stderr).trim()}`)
    for (const j of iptablesJumps) {
      const args = ['-w', '5', '-t', j.table]
      const has = await execa('iptables', [...args, '-C', j.chain, '-j', j.target], { reject: false })
      if (has.exitCode !== 0)
        await execa('iptables', [...args, '-A', j.chain, '-j', j.target], { timeout: 15_000 })
    }
    this.rulesAtMono = this.c.clock.monoMs()
  }
}

async function ip(args: string[]): Promise<string> {
  const r = await execa('ip', args, { reject: false, timeout: 15_000 })
  if (r.exitCode !== 0) throw podnetError(`ip ${args.join(' ')}: ${String(r.stderr).trim()}`)
  return String(r.stdout)
}

const podnetError = (msg: string) =>
  new HomecloudError(
    'PODNET_FAILED',
    msg,
    'the node needs iproute2 and iptables (Debian: iproute2, iptables)',
  )

/** wireguard-go: `ERROR: (hcwg0) 2026/01/02 03:04:05 message`. */
export function parseWireguardLine(line: string): { level: LogLevel; msg: string } {
  const m = /^(DEBUG|INFO|ERROR): \([^)]*\) [\d/]+ [\d:]+ (.*)$/.exec(line)
  if (!m) return { level: 'info', msg: line }
  return { level: m[1] === 'ERROR' ? 'warn' : 'debug', msg: m[2] ?? line }
}
