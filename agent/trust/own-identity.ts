import type { Timer } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { CaMaterial } from '../pki/ca.js'
import { createCsr } from '../pki/csr.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import { PROFILES } from '../pki/profiles.js'
import { Driver, type EffectSinks } from './driver.js'
import type { CommonEffect } from './effects.js'
import {
  type IdentityEffect,
  type IdentityEvent,
  type IdentityState,
  identityStart,
  identityStep,
} from './identity.js'
import type { NodeProfile } from './node-profile.js'
import { certIsOurs, issueOwn } from './signing.js'
import type { TrustComponents } from './trust-init.js'

type Csr = { csrPem: string; keyPem: string }
type Issued = { certPem: string; keyPem: string }
type NodeCertWait = Csr & { resolve(c: Issued): void; reject(e: Error): void; timer: Timer }

export interface OwnIdentityContext {
  c: TrustComponents
  nodeName: string
  host: string
  /** The join CSR while this node joins. */
  joinCsr: Csr | null
  cert: IdentityState['cert']
  ca(): CaMaterial | null
  validityMs(): number
  /** Verify our new certificate into the book, keep it, tell everyone. */
  adopt(certPem: string, keyPem: string, renewing: boolean): boolean
  stopped(): boolean
}

/**
 * The shell of identity.ts: makes this node's keys and CSRs (off the event loop),
 * renews a signer with its own signer logic, asks signers otherwise, and keeps the
 * promises of Kubernetes node-certificate requests.
 */
export class OwnIdentity {
  readonly driver: Driver<IdentityState, IdentityEvent, IdentityEffect>
  /** Our renewal CSR while a renewal is out; its key is made once per renewal. */
  private renewCsr: Csr | null = null
  private making: Promise<void> | null = null
  private readonly nodeCertWaits = new Map<NodeProfile, NodeCertWait>()

  constructor(
    private readonly x: OwnIdentityContext,
    sinks: EffectSinks,
  ) {
    this.driver = new Driver(identityStart(x.cert), identityStep, (f) => this.apply(f), sinks)
  }

  stop(): void {
    for (const [profile, w] of this.nodeCertWaits)
      w.reject(new HomecloudError('KUBE_CERT_REFUSED', `${profile}: the agent is stopping`))
    this.nodeCertWaits.clear()
  }

  private apply(f: Exclude<IdentityEffect, CommonEffect>): void {
    switch (f.kind) {
      case 'self-renew':
        void this.selfRenew().catch((err) => this.failed('renew its own certificate', err))
        return
      case 'ask-renewal':
        void this.askRenewal().catch((err) => this.failed('make a renewal request', err))
        return
      case 'adopt': {
        const csr = this.renewCsr
        if (csr && this.x.adopt(f.certPem, csr.keyPem, true)) this.renewCsr = null
        return
      }
      case 'ask-node-cert': {
        const w = this.nodeCertWaits.get(f.profile)
        if (w)
          this.x.c.router.broadcast({
            t: 'node-cert-request',
            profile: f.profile,
            name: this.x.nodeName,
            csr: w.csrPem,
          })
        return
      }
      case 'resolve-node-cert': {
        const w = this.nodeCertWaits.get(f.profile)
        this.nodeCertWaits.delete(f.profile)
        w?.resolve({ certPem: f.certPem, keyPem: w.keyPem })
        return
      }
      case 'reject-node-cert': {
        const w = this.nodeCertWaits.get(f.profile)
        this.nodeCertWaits.delete(f.profile)
        const hint = f.reason === 'no-answer' ? 'is a control-plane board up? `homecloud status`' : undefined
        const text =
          f.reason === 'no-answer'
            ? f.message
            : `${f.profile} certificate refused (${f.reason}): ${f.message}`
        w?.reject(new HomecloudError('KUBE_CERT_REFUSED', text, hint))
        return
      }
      default:
        return
    }
  }

  /** A signer renews itself with its own signer logic: no request, no connection. */
  private async selfRenew(): Promise<void> {
    if (this.making) return
    let keyPem = ''
    this.making = generateRsaKeyPemAsync().then((k) => {
      keyPem = k
    })
    await this.making.finally(() => {
      this.making = null
    })
    const ca = this.x.ca()
    if (!ca || this.x.stopped()) return
    const validityMs = this.x.validityMs()
    const own = issueOwn('agent', this.self(), keyPem, { ca, clock: this.x.c.clock, validityMs })
    this.x.adopt(own.certPem, keyPem, true)
  }

  /** Ask every connected peer (only signers answer) with one CSR per renewal. */
  private async askRenewal(): Promise<void> {
    if (!this.renewCsr) {
      if (this.making) return
      this.making = generateRsaKeyPemAsync().then((keyPem) => {
        this.renewCsr = createCsr({ commonName: this.x.c.identity.id, keyPem })
      })
      await this.making.finally(() => {
        this.making = null
      })
    }
    const csr = this.renewCsr
    if (this.x.stopped() || !csr || !this.driver.state.renewing) return
    this.x.c.router.broadcast({ t: 'renew-request', name: this.x.nodeName, csr: csr.csrPem })
  }

  /** A renewal reply is ours when it is for our id and the key of our renewal CSR. */
  renewalIsOurs(certPem: string): boolean {
    const csr = this.renewCsr
    if (!csr) return false
    return certIsOurs(certPem, this.x.c.book.ca, csr.keyPem, {
      commonName: this.x.c.identity.id,
      profile: 'agent',
    })
  }

  /** A join reply's certificate is ours when it is for our id and our join key. */
  joinCertIsOurs(certPem: string, caPem: string): boolean {
    const csr = this.x.joinCsr
    if (!csr) return false
    return certIsOurs(certPem, caPem, csr.keyPem, { commonName: this.x.c.identity.id, profile: 'agent' })
  }

  async issueOwnNodeCert(profile: NodeProfile): Promise<{ certPem: string; keyPem: string } | null> {
    if (!this.x.ca()) return null
    const keyPem = await generateRsaKeyPemAsync()
    const ca = this.x.ca()
    if (!ca) return null
    return issueOwn(profile, this.self(), keyPem, {
      ca,
      clock: this.x.c.clock,
      validityMs: this.x.validityMs(),
    })
  }

  async askNodeCert(profile: NodeProfile, timeoutMs: number): Promise<{ certPem: string; keyPem: string }> {
    const keyPem = await generateRsaKeyPemAsync()
    const spec = PROFILES[profile]
    const csr = createCsr({
      commonName: spec.commonName({ nodeName: this.x.nodeName })!,
      organizations: spec.organizations,
      keyPem,
    })
    this.nodeCertWaits.get(profile)?.reject(new Error('superseded'))
    return new Promise((resolve, reject) => {
      const timer = this.x.c.clock.setTimeout(
        () => this.driver.feed({ kind: 'node-cert-timeout', profile }),
        timeoutMs,
      )
      this.nodeCertWaits.set(profile, {
        ...csr,
        timer,
        resolve: (p) => {
          timer.cancel()
          resolve(p)
        },
        reject: (e) => {
          timer.cancel()
          reject(e)
        },
      })
      this.driver.feed({ kind: 'node-cert-asked', profile })
    })
  }

  /** Is this node certificate signed by our CA, for the key we made, under our own name? */
  nodeCertIsOurs(profile: NodeProfile, certPem: string): boolean {
    const w = this.nodeCertWaits.get(profile)
    const commonName = PROFILES[profile].commonName({ nodeName: this.x.nodeName })
    return (
      w !== undefined &&
      commonName !== undefined &&
      certIsOurs(certPem, this.x.c.book.ca, w.keyPem, { commonName })
    )
  }

  /** Retried on the next tick; the current certificate is still valid for a third of its life. */
  private failed(what: string, err: unknown): void {
    this.x.c.log.error({ err: (err as Error).message }, `could not ${what}: will retry`)
  }

  private self() {
    return { nodeId: this.x.c.identity.id, nodeName: this.x.nodeName, host: this.x.host }
  }
}
