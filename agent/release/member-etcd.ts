import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { type ClientTls, EtcdClient } from '../etcd/client.js'
import { gatewayTls } from '../etcd/etcd-auth.js'
import { GatewayKeys } from './gateway-key.js'
import type { MemberInfo } from './members.js'

// One etcd client through the live voters, as a CA-key holder (etcd-auth.ts gatewayTls),
// kept while the voters, the certificate and the CA key stay the same: made again when
// one of them changes or its gateway certificate is due for renewal.

export interface MemberEtcdInit {
  selfId: string
  etcdClientPort: number
}

export interface MemberEtcdComponents {
  clock: Clock
  log: Logger
  members: () => MemberInfo[]
  tlsMaterial: () => { certPem: string; keyPem: string; caPem: string } | null
  caKeyPem: () => string | null
}

export class MemberEtcd {
  private etcdClient: { client: EtcdClient; endpoints: string } | null = null
  private gateway: { caKey: string; tls: ClientTls } | null = null
  private readonly gatewayKeys: GatewayKeys

  constructor(
    private readonly init: MemberEtcdInit,
    private readonly c: MemberEtcdComponents,
  ) {
    this.gatewayKeys = new GatewayKeys(c.log)
  }

  /** The client, or null on a node without the CA key (etcd refuses it) or a certificate. */
  client(): EtcdClient | null {
    const tls = this.c.tlsMaterial()
    const caKey = this.c.caKeyPem()
    const voters = this.c.members().filter((m) => m.voter && m.alive)
    if (!tls || !caKey || voters.length === 0) return null
    const endpoints = voters.map((m) => `https://${m.address}:${this.init.etcdClientPort}`).sort()
    const key = endpoints.join(',') + tls.certPem.slice(-80) + caKey.slice(-80)
    const stale = (this.gateway?.tls.renewAtMs ?? 0) < this.c.clock.nowMs()
    if (this.etcdClient?.endpoints !== key || stale) {
      if (this.gateway?.caKey !== caKey || stale) {
        const keyPem = this.gatewayKeys.take(caKey)
        // Until the key is made: the client we have while it is only renewing, else none
        // (the records loop and the relay try again).
        if (keyPem === null) return this.gateway?.caKey === caKey ? (this.etcdClient?.client ?? null) : null
        this.gateway = {
          caKey,
          tls: gatewayTls({ certPem: tls.caPem, keyPem: caKey }, this.init.selfId, this.c.clock, keyPem),
        }
      }
      this.etcdClient?.client.close()
      this.etcdClient = {
        client: new EtcdClient(
          { endpoints, tls: this.gateway.tls, requestTimeoutMs: 3000 },
          { clock: this.c.clock },
        ),
        endpoints: key,
      }
    }
    return this.etcdClient.client
  }

  close(): void {
    this.etcdClient?.client.close()
  }
}
