import { createHash } from 'node:crypto'
import { type Random, seededRandom } from '../../agent/core/random.js'
import type { MemberState } from '../../agent/mesh/swim/types.js'
import { type RevocationBody, type RevocationList, signedBytes } from '../../agent/pki/revocations.js'
import { JOIN_ASK_TIMEOUT_MS } from '../../agent/trust/joiner.js'
import type { IssueRequest } from '../../agent/trust/signer.js'
import { DEFAULT_NETWORK, SimNetwork } from './network.js'
import { Scheduler } from './scheduler.js'
import { simIds } from './swim-cluster.js'
import { defaultSwimEnv, SwimNode } from './swim-node.js'
import { TrustPart } from './trust-part.js'

// A cluster's membership and trust in one process: the first `members` nodes hold
// certificates (the first three also the CA key, as etcd voters do), the rest are joiners
// that start later with join material only. It records every signature, adoption and
// revocation, and flags the moment a safety rule breaks (trust-run.ts checks the rest).

export interface TrustClusterOptions {
  seed: number
  members: number
  joiners: number
  /**
   * Admins may also revoke a node whose certificate their signer does not hold (trust.ts
   * then names the node id as a placeholder serial: revocationEntry).
   */
  strict?: boolean
  /**
   * Whom nodes bootstrap from: the signers (the default), or members that hold no CA key,
   * as in a big cluster where a joiner's few bootstrap links rarely reach one of the 3–5
   * voters; it then learns where the signers are from those members' refusals.
   */
  boot?: 'signers' | 'non-signers'
  /**
   * Messages to and from the signers are lost with this probability while the faults run
   * (busy signers: in the 50-agent lab most questions to them and answers from them were lost).
   */
  busySigners?: number
}

export interface Signing {
  atMs: number
  signer: string
  nodeId: string
  purpose: string
  serial: string
}

export const SIGNERS = 3

export class TrustCluster {
  readonly sched = new Scheduler()
  readonly random: Random
  readonly net: SimNetwork
  readonly nodes: SwimNode[] = []
  readonly parts: TrustPart[] = []
  readonly index = new Map<string, number>()
  readonly signings: Signing[] = []
  /** Nodes an admin revoked (on a signer that was up), and when. */
  readonly revokedAt = new Map<string, number>()
  readonly violations: string[] = []
  /**
   * Each joiner's asks. Signed once (joiner.ts): a joiner asks a signer only when no other
   * signer it asked is still within JOIN_ASK_TIMEOUT_MS and connected — or it restarted and
   * forgot. Such an ask is `movedOn`: a second signature there is the one case left (the
   * signer before crashed, stalled or was cut off after signing, and its certificate had
   * not reached this one); any other is a violation.
   */
  readonly asks = new Map<string, { peer: string; atMs: number; gen: number; movedOn: boolean }[]>()
  /** When each link (node/peer) last opened: a link that reopened lost the question asked on it. */
  private readonly linkedAt = new Map<string, number>()
  /** Second signatures of a join after the joiner moved on (the case above). */
  readonly signedAfterMovingOn: string[] = []
  /** Joins answered by a member without the CA key, with the certificate a signer issued before. */
  memberAnswers = 0
  private serial = 0x1000

  constructor(readonly opts: TrustClusterOptions) {
    this.random = seededRandom(opts.seed)
    this.net = new SimNetwork(this.sched, seededRandom(opts.seed + 1), { ...DEFAULT_NETWORK })
    const total = opts.members + opts.joiners
    const ids = simIds(this.random, total)
    const boot =
      opts.boot === 'non-signers'
        ? ids.slice(SIGNERS, Math.max(SIGNERS + 1, opts.members))
        : ids.slice(0, SIGNERS)
    if (opts.busySigners)
      this.net.opts.busy = { ids: new Set(ids.slice(0, SIGNERS)), dropRate: opts.busySigners }
    const env = defaultSwimEnv(this.sched, this.net, opts.seed, boot)
    ids.forEach((id, i) => {
      this.index.set(id, i)
      const member = i < opts.members
      const cert = member ? `simcert:${this.nextSerial()}:${id}` : null
      const part = new TrustPart(id, `n${i}`, this.trustEnv(seededRandom(opts.seed * 37 + i)), {
        cert,
        signer: i < SIGNERS,
      })
      this.parts.push(part)
      this.nodes.push(new SwimNode(id, env, part))
    })
  }

  private nextSerial(): string {
    return (this.serial++).toString(16)
  }

  private trustEnv(random: Random) {
    return {
      clusterId: 'sim-cluster',
      random,
      issue: (signer: string, r: IssueRequest) => this.issued(signer, r),
      signList: (body: RevocationBody): RevocationList => ({
        ...body,
        signature: createHash('sha256').update(signedBytes(body)).digest('base64'),
      }),
      isSigner: (id: string) => this.part(id).isSigner,
      asked: (joiner: string, peer: string, gen: number) => this.asked(joiner, peer, gen),
      linked: (id: string, peer: string) => this.linkedAt.set(`${id}/${peer}`, this.now),
      answeredByMember: () => {
        this.memberAnswers++
      },
      adopted: () => {},
      expelled: () => {},
    }
  }

  private asked(joiner: string, peer: string, gen: number): void {
    const list = this.asks.get(joiner) ?? []
    const links = this.nodes[this.index.get(joiner)!]!.links()
    const open = list.filter(
      (a) =>
        a.gen === gen &&
        a.peer !== peer &&
        this.part(a.peer).isSigner &&
        this.now - a.atMs < JOIN_ASK_TIMEOUT_MS &&
        links.includes(a.peer) &&
        (this.linkedAt.get(`${joiner}/${a.peer}`) ?? 0) <= a.atMs,
    )
    list.push({ peer, atMs: this.now, gen, movedOn: list.length > 0 && open.length === 0 })
    this.asks.set(joiner, list)
    if (open.length > 0 && this.part(peer).isSigner)
      this.violations.push(
        `${this.name(joiner)} asked ${this.name(peer)} at ${ms(this.now)} while ${open.map((a) => this.name(a.peer)).join(', ')} had not answered`,
      )
  }

  /** Checked the moment a signer signs: never for a node its book knows revoked; a joiner once. */
  private issued(signer: string, r: IssueRequest): string {
    const serial = this.nextSerial()
    const s = { atMs: this.now, signer, nodeId: r.nodeId, purpose: String(r.purpose), serial }
    if (this.part(signer).book.isRevoked(r.nodeId))
      this.violations.push(`${this.name(signer)} signed revoked ${this.name(r.nodeId)} at ${ms(this.now)}`)
    if (r.purpose === 'join') {
      const before = this.signings.filter((x) => x.purpose === 'join' && x.nodeId === r.nodeId)
      const text =
        `${this.name(r.nodeId)} signed again for its join at ${ms(this.now)} by ${this.name(signer)} ` +
        `(before: ${before.map((b) => `${this.name(b.signer)} at ${ms(b.atMs)}`).join(', ')})`
      // The same signer twice breaks its own promise (signer.ts answers a retry again, unsigned).
      const movedOn = this.asks.get(r.nodeId)?.findLast((a) => a.peer === signer)?.movedOn ?? false
      if (before.some((b) => b.signer === signer) || (before.length > 0 && !movedOn))
        this.violations.push(text)
      else if (before.length > 0) this.signedAfterMovingOn.push(text)
    }
    this.signings.push(s)
    return serial
  }

  get now(): number {
    return this.sched.now
  }

  name(id: string): string {
    return `n${this.index.get(id)}`
  }

  part(id: string): TrustPart {
    return this.parts[this.index.get(id)!]!
  }

  run(ms: number): void {
    this.sched.runUntil(this.now + ms)
  }

  runUntil(pred: () => boolean, maxMs: number, stepMs = 250): number | null {
    const start = this.now
    while (this.now - start < maxMs) {
      if (pred()) return this.now - start
      this.run(stepMs)
    }
    return pred() ? this.now - start : null
  }

  view(n: SwimNode): Map<string, MemberState> {
    const out = new Map<string, MemberState>()
    for (const m of n.liveness?.swim.members() ?? []) out.set(m.id, m.state)
    return out
  }

  /** Up nodes holding a certificate that no admin revoked: the cluster as it should be. */
  members(): SwimNode[] {
    return this.nodes.filter((n) => n.isUp() && this.part(n.id).cert !== null && !this.revoked(n.id))
  }

  /**
   * An admin revoked it and some node that is up holds that revocation. One that only a
   * signer knew, which then crashed for good (seed 421: cut off by a partition, then
   * crashed), is lost with it: nothing can spread what no running node holds.
   */
  revoked(id: string): boolean {
    return this.revokedAt.has(id) && this.nodes.some((n) => n.isUp() && this.part(n.id).book.isRevoked(id))
  }

  /**
   * Safety, after every step: a member that adopted a revocation never counts the revoked
   * node as a live member again (expelled, and its records refused from then on).
   */
  checkExpelled(): void {
    for (const n of this.members()) {
      const v = this.view(n)
      for (const id of this.part(n.id).book.revoked()) {
        const s = v.get(id)
        if (s === 'alive' || s === 'suspect')
          this.flag(`${this.name(n.id)} still counts revoked ${this.name(id)} as ${s}`)
      }
    }
  }

  /**
   * Safety, after every step: a node some member counts alive or suspect has its
   * certificate on its disk (join-save.ts). Unplugged then, it comes back as that member.
   */
  checkDurable(): void {
    for (const n of this.members())
      for (const [id, s] of this.view(n))
        if ((s === 'alive' || s === 'suspect') && id !== n.id && this.part(id).cert === null)
          this.flag(
            `${this.name(n.id)} counts ${this.name(id)} as ${s} before its certificate is on its disk`,
          )
  }

  private readonly flagged = new Set<string>()
  flag(text: string): void {
    if (this.flagged.has(text)) return
    this.flagged.add(text)
    this.violations.push(`${text} at ${ms(this.now)}`)
  }
}

const ms = (t: number) => `${(t / 1000).toFixed(3)} s`
