import { type Random, randomBelow, seededRandom } from '../../agent/core/random.js'
import { revocationKey } from '../../agent/pki/revocations.js'
import { applyCommonFault, describeFault, type Fault, randomSchedule } from './faults.js'
import { SIGNERS, TrustCluster } from './trust-cluster.js'

export interface TrustRunResult {
  seed: number
  boot: 'signers' | 'non-signers'
  members: number
  joiners: number
  ok: boolean
  violations: string[]
  /** Joins signed by a second signer after the joiner gave up on the first (trust-cluster.ts `asks`). */
  signedAfterMovingOn: string[]
  /** Joins answered by a member without the CA key (the certificate issued before, handed back). */
  memberAnswers: number
  schedule: Fault[]
  /** Nodes actually revoked (a revoke whose signer was down, or (not strict) held no certificate, is skipped). */
  revoked: number
  events: number
}

export interface TrustRunOptions {
  membersMin?: number
  membersMax?: number
  joinersMax?: number
  /** Exactly this many joiners (a big cluster's burst of joins: signers busy, answers lost). */
  joiners?: number
  faultsMs?: number
  faultsMax?: number
  settleMs?: number
  /** Let admins revoke nodes their signer holds no certificate for (trust-cluster.ts `strict`). */
  strict?: boolean
  /** Whom nodes bootstrap from (trust-cluster.ts `boot`). */
  boot?: 'signers' | 'non-signers'
  /** Messages to and from signers lost with this probability while the faults run (trust-cluster.ts). */
  busySigners?: number
}

/** The safety checks run this often (simulated time) through the whole run. */
const CHECK_MS = 100

/**
 * One seeded run of membership and trust under a random fault schedule with joiners and
 * revocations in it. Checked throughout: each joiner is signed once; no signer signs a node
 * it knows revoked; a member that learnt of a revocation never counts the revoked node
 * alive again. Checked once the faults stop: every revocation reaches every member (same
 * list, every revoked node expelled everywhere), every joiner that was not revoked is
 * signed, and every member's view converges (members alive, revoked and crashed nodes not).
 */
export function runTrustSchedule(seed: number, opts: TrustRunOptions = {}): TrustRunResult {
  const random = seededRandom(seed ^ 0x7a57)
  const lo = opts.membersMin ?? 4
  const members = lo + randomBelow(random, (opts.membersMax ?? 7) - lo + 1)
  const drawn = 1 + randomBelow(random, opts.joinersMax ?? 3)
  const joiners = opts.joiners ?? drawn
  const c = new TrustCluster({
    seed,
    members,
    joiners,
    strict: opts.strict ?? false,
    boot: opts.boot ?? 'signers',
    ...(opts.busySigners ? { busySigners: opts.busySigners } : {}),
  })
  const r: TrustRunResult = {
    seed,
    boot: opts.boot ?? 'signers',
    members,
    joiners,
    ok: false,
    violations: [],
    signedAfterMovingOn: [],
    memberAnswers: 0,
    schedule: [],
    revoked: 0,
    events: 0,
  }
  for (let i = 0; i < members; i++) c.sched.at((1000 * i) / members, () => c.nodes[i]!.start())
  const every = () => {
    c.checkExpelled()
    c.checkDurable()
    c.sched.after(CHECK_MS, every)
  }
  c.sched.at(0, every)
  c.run(15_000)
  const faultsMs = opts.faultsMs ?? 30_000
  r.schedule = trustSchedule(random, members, joiners, faultsMs, opts.faultsMax ?? 8)
  const start = c.now
  for (const f of r.schedule) c.sched.at(start + f.atMs, () => apply(c, f))
  c.run(faultsMs)
  c.net.partition(null)
  c.net.opts.dropRate = 0
  c.net.opts.duplicateRate = 0
  delete c.net.opts.busy
  if (c.runUntil(() => settled(c).length === 0, opts.settleMs ?? 120_000) === null)
    r.violations.push(...settled(c))
  r.violations.unshift(...c.violations)
  r.signedAfterMovingOn = c.signedAfterMovingOn
  r.memberAnswers = c.memberAnswers
  r.revoked = c.revokedAt.size
  r.ok = r.violations.length === 0
  r.events = c.sched.ran
  return r
}

/** The membership faults of the other simulators, plus joins and revocations. */
export function trustSchedule(
  random: Random,
  members: number,
  joiners: number,
  faultsMs: number,
  faultsMax: number,
): Fault[] {
  const total = members + joiners
  const out: Fault[] = randomSchedule(random, total, {
    faultsMs,
    faultsMax,
    downMax: Math.floor((members - 1) / 2),
  })
  for (let j = members; j < total; j++)
    out.push({ atMs: Math.floor(random.next() * faultsMs * 0.8), kind: 'join', node: j })
  const revokes = randomBelow(random, 3)
  for (let k = 0; k < revokes; k++) {
    const atMs = Math.floor(random.next() * faultsMs)
    const by = randomBelow(random, SIGNERS)
    out.push({ atMs, kind: 'revoke', node: SIGNERS + randomBelow(random, total - SIGNERS), by })
    // Now and then a second admin revokes another node at the same moment (lists race).
    if (random.next() < 0.3)
      out.push({
        atMs,
        kind: 'revoke',
        node: SIGNERS + randomBelow(random, total - SIGNERS),
        by: (by + 1) % SIGNERS,
      })
  }
  return out.sort((a, b) => a.atMs - b.atMs)
}

/** What is still wrong once the faults stopped (empty: settled). */
function settled(c: TrustCluster): string[] {
  const out: string[] = []
  const members = c.members()
  const revoked = [...c.revokedAt.keys()].filter((id) => c.revoked(id))
  for (const n of c.nodes) {
    const joinerLeft = n.isUp() && c.part(n.id).cert === null && !c.revoked(n.id)
    if (joinerLeft) out.push(`joiner ${c.name(n.id)} was never signed`)
  }
  const key = (id: string) => {
    const l = c.part(id).revocations.list
    return l ? JSON.stringify(revocationKey(l)) : 'none'
  }
  for (const n of members) {
    const p = c.part(n.id)
    const missing = revoked.filter((id) => !p.book.isRevoked(id))
    if (missing.length > 0)
      out.push(`${c.name(n.id)} has not expelled ${missing.map((id) => c.name(id)).join(', ')}`)
    if (members[0] && key(n.id) !== key(members[0].id))
      out.push(`${c.name(n.id)} holds another revocation list than ${c.name(members[0].id)}`)
    const v = c.view(n)
    for (const o of c.nodes) {
      if (o === n) continue
      const s = v.get(o.id)
      const shouldLive = members.includes(o)
      if (shouldLive ? s !== 'alive' : s === 'alive' || s === 'suspect')
        out.push(`${c.name(n.id)} sees ${c.name(o.id)} ${s ?? 'nowhere'}`)
    }
  }
  return out
}

function apply(c: TrustCluster, f: Fault): void {
  const node = 'node' in f ? c.nodes[f.node] : undefined
  if (applyCommonFault(f, node, c.net, (i) => c.nodes[i]!.id)) return
  switch (f.kind) {
    case 'join':
      if (node && !node.isUp()) node.start()
      return
    case 'revoke': {
      const by = c.parts[f.by]!
      if (!node || !by.up || !by.cert) return
      if (!c.opts.strict && !by.book.get(node.id)) return
      if (!c.revokedAt.has(node.id)) c.revokedAt.set(node.id, c.now)
      by.revoke(node.id, c.name(node.id), c.nodes[f.by]!.proc.clock().nowMs())
      return
    }
  }
}

export function describeTrustRun(r: TrustRunResult): string {
  return [
    `seed ${r.seed}${r.boot === 'non-signers' ? ' (--boot-non-signers)' : ''}: ${r.members} members + ${r.joiners} joiners, ${r.ok ? 'ok' : 'FAILED'}`,
    ...r.schedule.map((f) => `  ${describeFault(f)}`),
    ...r.violations.map((v) => `  ✗ ${v}`),
    ...r.signedAfterMovingOn.map((v) => `  ! ${v}`),
  ].join('\n')
}
