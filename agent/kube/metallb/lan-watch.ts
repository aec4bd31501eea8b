import type { Clock } from '../../core/clock.js'
import { Controller } from '../../core/controller.js'
import type { Logger } from '../../core/log.js'
import { type Random, systemRandom } from '../../core/random.js'
import type { KubeHttpClient } from '../api-client.js'
import { type LanService, lanServices } from './lan-services.js'

// Keeps this node's copy of the LAN Services table for its status page: every few seconds
// it lists Services and MetalLB's ServiceL2Statuses with the node's own identity (the
// add-on manifests/addons/node-proxier.yaml lets nodes read the latter). Every node does
// this itself, so any node's page shows the table without asking another node.

export interface LanWatchComponents {
  clock: Clock
  log: Logger
  random?: Random
  /** The API as this node; null until its certificate is there. */
  api(): Promise<KubeHttpClient | null>
  everyMs?: number
}

export class LanServicesWatch {
  private readonly ctl: Controller
  private rows: LanService[] | null = null

  constructor(private readonly c: LanWatchComponents) {
    this.ctl = new Controller(
      {
        name: 'lan-services',
        keys: () => ['read'],
        resyncMs: c.everyMs ?? 5000,
        backoff: { initialDelayMs: 2000, delayMsMax: 30_000 },
        sync: () => this.read(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  start(): void {
    this.ctl.start()
  }

  stop(): Promise<void> {
    return this.ctl.stop()
  }

  /** The last table read; null before the first successful read. */
  services(): LanService[] | null {
    return this.rows
  }

  /** One read; throws when the API does not answer (retried on the controller's backoff). */
  async read(): Promise<void> {
    const api = await this.c.api()
    if (!api) return
    const svc = await api.ok('GET', '/api/v1/services')
    // 404 until MetalLB's definitions are applied: no node announces anything then.
    const l2 = await api.request('GET', '/apis/metallb.io/v1beta1/servicel2statuses')
    this.rows = lanServices(svc.body, l2.status === 200 ? l2.body : { items: [] })
  }
}
