import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { networkInterfaces, userInfo } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import type { NetbootSlotsClient } from '../slots/netboot-store.js'
import { readJoinMaterial } from '../trust/join-material.js'
import type { ImageArch } from './arch.js'
import { BootFiles } from './boot-files.js'
import { adopts, effectiveAdoption, type NetbootConfig } from './config.js'
import { DnsmasqProcess } from './dnsmasq.js'
import { renderDnsmasqConfig } from './dnsmasq-config.js'
import { macFromArpTable } from './dnsmasq-log.js'
import { MachineBook } from './machines.js'
import { type NetbootImage, readImage, verifyImage } from './manifest.js'
import { registerNetbootRoutes } from './routes.js'
import { isPiCmdlinePath } from './rpi.js'
import { slotOffer } from './slot-offer.js'
import { TftpRoot } from './tftp-root.js'

// Netboot on one node: the image it serves, dnsmasq (proxyDHCP + TFTP) as a child, the
// HTTP routes, and the machines it answered. Level-triggered: every few seconds the
// wanted dnsmasq config is rendered from the current policy and dnsmasq is restarted
// only when it changed (e.g. the cluster's join policy moved adoption to `known`): a
// controller with one key, deciding with dnsmasqAction (pure).

export interface NetbootServiceInit {
  config: NetbootConfig
  stateDir: string
  host: string
  apiPort: number
  nodeName: string
  clusterId: string
  joinPolicy: () => 'auto' | 'approve'
  /** The cluster's state-disk policy, written on netbooted kernels' command lines. */
  stateDiskPolicy?: () => 'labelled-only' | 'adopt-empty' | undefined
  /** KEY@IP:PORT of live members (this node first). */
  peers: () => string[]
  /** The join.json text to hand a served machine, or null. */
  joinMaterial: () => Promise<string | null>
  /**
   * The release store (agent/release): the cluster's current release per architecture,
   * and any complete release by id. Used unless `config.imageDir` overrides it.
   */
  releases?: {
    imageFor(arch: ImageArch): { image: NetbootImage | null; reason: string }
    imageById(id: string): NetbootImage | null
  }
  /** The netboot slot records (agent/slots/netboot-*.ts): a MAC with one boots its slot. */
  slots?: NetbootSlotsClient
}

export interface NetbootComponents {
  clock: Clock
  log: Logger
  counters: Counters
  random?: Random
}

const reconcileMs = 3000

/** Whether dnsmasq needs (re)starting for the config wanted now (pure). */
export function dnsmasqAction(o: {
  wanted: string
  written: string
  dnsmasqStopped: boolean
}): 'none' | 'start' | 'restart' {
  if (o.wanted === o.written && !o.dnsmasqStopped) return 'none'
  return o.written === '' ? 'start' : 'restart'
}

export class NetbootService {
  readonly book: MachineBook
  private image: NetbootImage | null = null
  private imageProblem = 'not loaded yet'
  private dnsmasq: DnsmasqProcess | null = null
  private tftp: TftpRoot | null = null
  private readonly bootFiles: BootFiles
  private writtenConfig = ''
  private readonly loop: Controller
  private readonly dir: string
  private readonly log: Logger

  constructor(
    private readonly init: NetbootServiceInit,
    private readonly c: NetbootComponents,
  ) {
    this.book = new MachineBook(c.clock)
    this.dir = join(init.stateDir, 'netboot')
    this.log = c.log.child({ component: 'netboot' })
    this.loop = new Controller(
      {
        name: 'netboot',
        keys: () => ['dnsmasq'],
        resyncMs: reconcileMs,
        syncAtStart: false,
        backoff: { initialDelayMs: reconcileMs, factor: 1, delayMsMax: reconcileMs, jitter: 0 },
        sync: () => this.reconcile(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: this.log, counters: c.counters },
    )
    this.bootFiles = new BootFiles({
      config: init.config,
      baseUrl: this.baseUrl,
      clusterId: init.clusterId,
      peers: init.peers,
      ...(init.stateDiskPolicy ? { stateDiskPolicy: init.stateDiskPolicy } : {}),
    })
  }

  get baseUrl(): string {
    return `http://${this.init.host}:${this.init.apiPort}/netboot`
  }

  adoption(): 'any' | 'known' {
    return effectiveAdoption(this.init.config, this.init.joinPolicy())
  }

  /** The image for a booting machine's architecture: the override directory, else the cluster's current release. */
  imageFor(arch: ImageArch): { image: NetbootImage | null; reason: string } {
    if (this.init.config.imageDir) {
      if (!this.image) return { image: null, reason: this.imageProblem }
      if (this.image.manifest.arch !== arch)
        return { image: null, reason: `no ${arch} image (this node has ${this.image.manifest.arch})` }
      return { image: this.image, reason: '' }
    }
    if (!this.init.releases) return { image: null, reason: 'releases are off on this node' }
    return this.init.releases.imageFor(arch)
  }

  private imageById(id: string): NetbootImage | null {
    if (this.init.config.imageDir) return this.image?.id === id ? this.image : null
    return this.init.releases?.imageById(id) ?? null
  }

  /** Something to serve for some architecture: dnsmasq answers only then (another node may have it). */
  private servable(): boolean {
    return this.imageFor('amd64').image !== null || this.imageFor('arm64').image !== null
  }

  /** Loads and checks an override image, then starts dnsmasq once there is something to serve. */
  async start(): Promise<void> {
    const cfg = this.init.config
    if (cfg.imageDir) await this.loadOverride(cfg.imageDir)
    if (!cfg.dnsmasq || (cfg.imageDir && !this.image)) return
    await mkdir(this.dir, { recursive: true, mode: 0o755 })
    this.tftp = new TftpRoot(join(this.dir, 'tftp'))
    await this.tftp.apply(await this.bootFiles.entries(null))
    this.dnsmasq = new DnsmasqProcess(
      { configFile: join(this.dir, 'dnsmasq.conf'), binary: cfg.dnsmasqBinary },
      {
        log: this.c.log,
        clock: this.c.clock,
        onEvent: (e) => {
          if (e.kind === 'pxe') {
            this.book.note(e.mac, 'dhcp')
            if (e.ip) this.book.noteAddress(e.ip, e.mac)
          } else {
            void this.tftpSent(e.ip, e.file)
          }
        },
      },
    )
    // The first reconcile starts dnsmasq: its failure is start()'s.
    await this.reconcile()
    this.loop.start()
  }

  private async loadOverride(dir: string): Promise<void> {
    try {
      const image = await readImage(dir)
      await verifyImage(image)
      this.image = image
      this.imageProblem = ''
      this.log.info(
        { image: image.id, version: image.manifest.version, dir: image.dir },
        'netboot image ready',
      )
    } catch (err) {
      this.imageProblem = (err as Error).message
      this.log.error({ err: this.imageProblem }, 'netboot image refused; this node will not answer netboot')
    }
  }

  private async tftpSent(ip: string, file: string): Promise<void> {
    const mac =
      this.book.macAt(ip) ?? macFromArpTable(await readFile('/proc/net/arp', 'utf8').catch(() => ''), ip)
    if (!mac) return
    this.book.noteAddress(ip, mac)
    this.book.note(mac, 'tftp')
    // A Raspberry Pi fetches no script: its cmdline.txt from us makes it ours to hand join material.
    if (isPiCmdlinePath(file) && adopts(this.adoption(), this.init.config.knownMacs, mac)) {
      this.book.note(mac, 'rpi-boot', { arch: 'arm64' })
    }
  }

  async stop(): Promise<void> {
    await this.loop.stop()
    await this.dnsmasq?.stop()
  }

  register(app: FastifyInstance): void {
    registerNetbootRoutes(app, {
      counters: this.c.counters,
      book: this.book,
      imageFor: (arch) => this.imageFor(arch),
      imageById: (id) => this.imageById(id),
      baseUrl: this.baseUrl,
      nodeName: this.init.nodeName,
      clusterId: this.init.clusterId,
      peers: () => this.init.peers().slice(0, this.init.config.peersMax),
      adopts: (mac) => adopts(this.adoption(), this.init.config.knownMacs, mac),
      ...(this.init.stateDiskPolicy ? { stateDiskPolicy: this.init.stateDiskPolicy } : {}),
      joinMaterial: this.init.joinMaterial,
      ...(this.init.slots ? { slots: this.slotsDeps(this.init.slots) } : {}),
      status: () => ({
        node: this.init.nodeName,
        source: this.init.config.imageDir ? 'imageDir' : 'releases',
        images: (['amd64', 'arm64'] as const).map((arch) => {
          const { image, reason } = this.imageFor(arch)
          return image
            ? { arch, id: image.id, version: image.manifest.version }
            : { arch, id: null, problem: reason }
        }),
        raspberryPi: this.init.config.raspberryPi.enabled && this.imageFor('arm64').image !== null,
        mode: this.init.config.mode,
        adoption: this.adoption(),
        dnsmasq: this.dnsmasq?.status() ?? null,
      }),
    })
  }

  private slotsDeps(client: NetbootSlotsClient) {
    const deps = { client, imageById: (id: string) => this.imageById(id), clock: this.c.clock, log: this.log }
    return {
      offer: (mac: string, arch: ImageArch, bootId: string | null) => slotOffer(deps, mac, arch, bootId),
      newBootId: () => randomBytes(8).toString('hex'),
    }
  }

  private async reconcile(): Promise<void> {
    if (!this.dnsmasq) return
    // No image for any architecture (yet): stay silent, so a node that has one answers.
    if (!this.servable()) {
      const state = this.dnsmasq.status().state
      if (state !== 'stopped' && state !== 'idle') {
        await this.dnsmasq.stop()
        this.log.info('dnsmasq stopped: no netboot image to serve')
      }
      this.writtenConfig = ''
      return
    }
    // GRUB and the Pi's files follow the arm64 image this node serves (a release may bring or change it).
    const arm64 = this.imageFor('arm64').image
    const changed = await this.tftp?.apply(await this.bootFiles.entries(arm64))
    if (changed?.length) this.log.debug({ files: changed }, 'TFTP root updated')
    const text = renderDnsmasqConfig({
      mode: this.init.config.mode,
      interface: this.init.config.interface ?? interfaceOf(this.init.host),
      address: this.init.host,
      prefixLength: prefixOf(this.init.host),
      dhcpRange: this.init.config.dhcpRange,
      tftpRoot: join(this.dir, 'tftp'),
      scriptUrl: `${this.baseUrl}/boot.ipxe`,
      adoption: this.adoption(),
      knownMacs: this.init.config.knownMacs,
      raspberryPi: this.init.config.raspberryPi.enabled && arm64 !== null,
      arm64: arm64 !== null,
      leaseFile: join(this.dir, 'leases'),
      user: userInfo().username,
    })
    const action = dnsmasqAction({
      wanted: text,
      written: this.writtenConfig,
      dnsmasqStopped: this.dnsmasq.status().state === 'stopped',
    })
    if (action === 'none') return
    await writeFileAtomic(join(this.dir, 'dnsmasq.conf'), text, 0o644)
    this.writtenConfig = text
    if (action === 'start') await this.dnsmasq.start()
    else await this.dnsmasq.restart()
    this.log.info(
      { mode: this.init.config.mode, adoption: this.adoption() },
      action === 'start' ? 'dnsmasq started' : 'dnsmasq restarted with a new config',
    )
  }
}

/** The interface holding an address (dnsmasq binds to it). */
export function interfaceOf(host: string): string {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if ((list ?? []).some((a) => a.family === 'IPv4' && a.address === host)) return name
  }
  throw new HomecloudError(
    'NETBOOT_DNSMASQ',
    `no interface holds ${host}`,
    'set netboot.interface in the agent config to the LAN interface',
  )
}

function prefixOf(host: string): number {
  for (const list of Object.values(networkInterfaces())) {
    const a = (list ?? []).find((x) => x.family === 'IPv4' && x.address === host)
    if (a?.cidr) return Number(a.cidr.split('/')[1])
  }
  return 24
}

/** Join material as a served machine gets it: the cluster's, with this node first in its bootstrap list. */
export async function joinMaterialFor(joinFile: string, self: string): Promise<string | null> {
  const m = await readJoinMaterial(joinFile).catch(() => null)
  if (!m) return null
  const bootstrap = [self, ...m.bootstrap.filter((b) => b !== self)].slice(0, 64)
  return `${JSON.stringify({ ...m, bootstrap })}\n`
}
