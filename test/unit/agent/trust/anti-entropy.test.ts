import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { seededRandom } from '../../../../agent/core/random.js'
import { type RevocationList, signRevocations } from '../../../../agent/pki/revocations.js'
import type { ClusterFile } from '../../../../agent/state/cluster-file.js'
import { answerDigest, digestOf, type TrustDocs } from '../../../../agent/trust/anti-entropy.js'
import { type SignedApproval, signApproval } from '../../../../agent/trust/approval.js'
import { type ApprovalsState, approvalsStart, approvalsStep } from '../../../../agent/trust/approvals.js'
import type { CommonEffect } from '../../../../agent/trust/effects.js'
import {
  type RevocationsState,
  revocationsStart,
  revocationsStep,
} from '../../../../agent/trust/revocations.js'
import { type SettingsState, settingsStart, settingsStep } from '../../../../agent/trust/settings.js'
import { type SignedSettings, signSettings } from '../../../../agent/trust/signed-settings.js'
import { TRUST_LIMITS, TrustDigest, type TrustMessage } from '../../../../agent/trust/wire.js'
import { testCa } from '../pki/fixtures.js'

const CLUSTER = '0123456789abcdef'
const cluster: ClusterFile = {
  v: 1,
  id: CLUSTER,
  name: 'home',
  joinPolicy: 'auto',
  certValidityMs: 86_400_000,
  settingsVersion: 0,
}
const entry = (nodeId: string) => ({ serial: nodeId.toLowerCase(), nodeId, revokedAtMs: 1, reason: 'test' })
const list = (version: number, ...ids: string[]): RevocationList =>
  signRevocations({ clusterId: CLUSTER, version, entries: ids.map(entry) }, testCa().keyPem)
const approval = (nodeId: string): SignedApproval =>
  signApproval({ clusterId: CLUSTER, nodeId, name: `n-${nodeId}`, approvedAtMs: 1 }, testCa().keyPem)
const settings = (version: number, joinPolicy: 'auto' | 'approve'): SignedSettings =>
  signSettings(
    version,
    { id: CLUSTER, name: 'home', joinPolicy, certValidityMs: 86_400_000 },
    testCa().keyPem,
  )
const docs = (over: Partial<TrustDocs> = {}): TrustDocs => ({
  revocations: undefined,
  revocationsRaced: [],
  settings: null,
  approvals: new Map(),
  ...over,
})
const ts = (msgs: TrustMessage[]) => msgs.map((m) => (m.t === 'trust-digest' ? `digest:${m.reply}` : m.t))

describe('anti-entropy: answering a digest', () => {
  test('the same documents on both sides: nothing is sent, not even a digest back', () => {
    const held = docs({
      revocations: list(1, 'A'),
      settings: settings(2, 'approve'),
      approvals: new Map([['n1', approval('n1')]]),
    })
    assert.deepEqual(answerDigest(held, digestOf(held, true)), [])
  })

  test('a peer that missed a push (older list, older settings, an approval less) is sent each, no digest back', () => {
    // The join-signers failure mode: a node that never heard the second revocation.
    const ours = docs({
      revocations: list(1, 'A', 'B'),
      settings: settings(2, 'approve'),
      approvals: new Map([['n1', approval('n1')]]),
    })
    const theirs = digestOf(docs({ revocations: list(0, 'A'), settings: settings(1, 'auto') }), true)
    assert.deepEqual(ts(answerDigest(ours, theirs)), ['revocations', 'settings', 'approval'])
    // A peer that joined while the list went round and holds nothing yet.
    assert.deepEqual(ts(answerDigest(ours, digestOf(docs(), true))), ['revocations', 'settings', 'approval'])
  })

  test('we are the one behind: our digest goes back when asked for (and only then, so an exchange ends)', () => {
    const ours = docs({ revocations: list(0, 'A') })
    const theirs = docs({ revocations: list(1, 'A', 'B'), approvals: new Map([['n2', approval('n2')]]) })
    assert.deepEqual(ts(answerDigest(ours, digestOf(theirs, true))), ['digest:false'])
    assert.deepEqual(answerDigest(ours, digestOf(theirs, false)), [])
    // ...and the peer answers our digest with what we lack.
    assert.deepEqual(ts(answerDigest(theirs, digestOf(ours, false))), ['revocations', 'approval'])
  })

  test('two lists that raced to one version: the loser asks for the winner; it then offers its own as raced', () => {
    const a = list(0, 'A')
    const b = list(0, 'B')
    const [winner, loser] = a.signature > b.signature ? [a, b] : [b, a]
    const fromLoser = answerDigest(
      docs({ revocations: loser }),
      digestOf(docs({ revocations: winner }), true),
    )
    assert.deepEqual(ts(fromLoser), ['digest:false'])
    assert.deepEqual(
      ts(answerDigest(docs({ revocations: winner }), digestOf(docs({ revocations: loser }), false))),
      ['revocations'],
    )
    // Having adopted the winner, the loser's node keeps its list as raced (revocations.ts).
    const after = docs({ revocations: winner, revocationsRaced: [loser] })
    const out = answerDigest(after, digestOf(docs({ revocations: winner }), true))
    assert.deepEqual(
      out.map((m) => (m.t === 'revocations' ? m.list.signature : m.t)),
      [loser.signature],
    )
  })

  test('a raced list is offered to every peer whose digest names it nowhere; a peer holding one we lack is asked', () => {
    const v1 = list(1, 'A', 'C')
    const v2 = list(2, 'A', 'B', 'D')
    const ours = docs({ revocations: v2, revocationsRaced: [v1] })
    assert.deepEqual(ts(answerDigest(ours, digestOf(docs({ revocations: v2 }), true))), ['revocations'])
    assert.deepEqual(answerDigest(ours, digestOf(ours, true)), [])
    assert.deepEqual(ts(answerDigest(docs({ revocations: v2 }), digestOf(ours, true))), ['digest:false'])
    assert.deepEqual(answerDigest(docs({ revocations: v2 }), digestOf(ours, false)), [])
    assert.deepEqual(digestOf(ours, true).revocationsRaced, [
      { version: 1, count: 2, signature: v1.signature },
    ])
  })

  test('a digest naming more raced lists than revocationsRacedMax is refused; one from an older agent (none named) is answered', () => {
    const v1 = list(1, 'A', 'C')
    const d = digestOf(docs({ revocations: list(2, 'A', 'B') }), true)
    const key = d.revocationsRaced?.[0] ?? { version: 1, count: 2, signature: v1.signature }
    const many = Array.from({ length: TRUST_LIMITS.revocationsRacedMax + 1 }, () => key)
    assert.equal(TrustDigest.safeParse({ ...d, revocationsRaced: many }).success, false)
    const { revocationsRaced: _, ...older } = d
    const parsed = TrustDigest.parse(older)
    const ours = docs({ revocations: list(2, 'A', 'B'), revocationsRaced: [v1] })
    assert.deepEqual(ts(answerDigest(ours, parsed)), ['revocations'])
  })

  test('a digest lists a bounded number of approvals; above its last id nothing is judged missing', () => {
    const n = TRUST_LIMITS.digestApprovalsMax + 2
    const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(4, '0')}`)
    const one = approval('n0000')
    const many = new Map(ids.map((id) => [id, { ...one, nodeId: id }]))
    const d = digestOf(docs({ approvals: many }), true)
    assert.equal(d.approvals.length, TRUST_LIMITS.digestApprovalsMax)
    assert.equal(d.approvalsMore, true)
    // We hold every one of them: nothing below its last id is missing there, above it cannot be told.
    assert.deepEqual(ts(answerDigest(docs({ approvals: many }), d)), ['digest:false'])
    const fewer = new Map([...many].filter(([id]) => id !== 'n0007'))
    assert.deepEqual(
      ts(answerDigest(docs({ approvals: many }), digestOf(docs({ approvals: fewer }), false))),
      ['approval'],
    )
  })
})

/** Revocations, settings and approvals machines on n nodes; the first `signers` sign. */
class Cluster {
  readonly rev: RevocationsState[]
  readonly set: SettingsState[]
  readonly appr: ApprovalsState[]
  private readonly inbox: { to: number; from: number; msg: TrustMessage }[] = []
  /** Crashed for good: sends nothing, receives nothing. */
  readonly down = new Set<number>()

  constructor(
    readonly n: number,
    readonly signers: number,
    /** Chance that a push (broadcast) reaches a given node: the gap anti-entropy closes. */
    private readonly pushArrives: number,
    private readonly random: () => number,
  ) {
    this.rev = Array.from({ length: n }, () => revocationsStart(CLUSTER, undefined))
    this.set = Array.from({ length: n }, () => settingsStart(cluster, null))
    this.appr = Array.from({ length: n }, () => approvalsStart([]))
  }

  docs(i: number): TrustDocs {
    return {
      revocations: this.rev[i]!.list,
      revocationsRaced: this.rev[i]!.raced,
      settings: this.set[i]!.signed,
      approvals: this.appr[i]!.approvals,
    }
  }

  revoke(i: number, id: string): void {
    this.runRev(i, revocationsStep(this.rev[i]!, { kind: 'revoke', entry: entry(id), name: id }))
  }

  change(i: number, joinPolicy: 'auto' | 'approve'): void {
    this.runSet(i, settingsStep(this.set[i]!, { kind: 'change', change: { joinPolicy } }))
  }

  approve(i: number, id: string): void {
    this.runAppr(i, approvalsStep(this.appr[i]!, { kind: 'approval', approval: approval(id) }))
  }

  /** One period: every node sends its digest to one other node; everything sent is delivered. */
  round(): void {
    const up = this.up()
    for (const i of up) {
      const others = up.filter((j) => j !== i)
      const j = others[Math.floor(this.random() * others.length)]!
      this.inbox.push({ to: j, from: i, msg: digestOf(this.docs(i), true) })
    }
    while (this.inbox.length > 0) {
      const [m] = this.inbox.splice(Math.floor(this.random() * this.inbox.length), 1)
      if (!this.down.has(m!.to)) this.deliver(m!.to, m!.from, m!.msg)
    }
  }

  up(): number[] {
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => !this.down.has(i))
  }

  private deliver(i: number, from: number, msg: TrustMessage): void {
    if (msg.t === 'trust-digest')
      for (const out of answerDigest(this.docs(i), msg)) this.inbox.push({ to: from, from: i, msg: out })
    else if (msg.t === 'revocations')
      this.runRev(
        i,
        revocationsStep(this.rev[i]!, { kind: 'received', list: msg.list, signer: i < this.signers }),
      )
    else if (msg.t === 'settings')
      this.runSet(i, settingsStep(this.set[i]!, { kind: 'received', signed: msg.signed }))
    else if (msg.t === 'approval')
      this.runAppr(i, approvalsStep(this.appr[i]!, { kind: 'approval', approval: msg.approval }))
  }

  private runRev(i: number, r: ReturnType<typeof revocationsStep>): void {
    this.rev[i] = r.state
    for (const f of r.effects) {
      if (f.kind === 'sign')
        this.runRev(
          i,
          revocationsStep(this.rev[i]!, { kind: 'issued', list: signRevocations(f.body, testCa().keyPem) }),
        )
      else this.common(i, f)
    }
  }

  private runSet(i: number, r: ReturnType<typeof settingsStep>): void {
    this.set[i] = r.state
    for (const f of r.effects) {
      if (f.kind === 'sign')
        this.runSet(
          i,
          settingsStep(this.set[i]!, {
            kind: 'issued',
            signed: signSettings(f.version, f.settings, testCa().keyPem),
          }),
        )
      else this.common(i, f)
    }
  }

  private runAppr(i: number, r: ReturnType<typeof approvalsStep>): void {
    this.appr[i] = r.state
    for (const f of r.effects) this.common(i, f)
  }

  /** A push reaches each other node or is lost (a connection closing under it). */
  private common(i: number, f: { kind: string }): void {
    const e = f as CommonEffect
    if (e.kind !== 'broadcast') return
    for (let j = 0; j < this.n; j++)
      if (j !== i && !this.down.has(j) && this.random() < this.pushArrives)
        this.inbox.push({ to: j, from: i, msg: e.msg })
  }
}

describe('anti-entropy: a cluster whose pushes are lost', () => {
  for (const pushArrives of [0, 0.5]) {
    test(`pushes arriving ${pushArrives * 100}% of the time: every node ends with the same documents`, () => {
      for (let seed = 1; seed <= 25; seed++) {
        const random = seededRandom(seed)
        const cl = new Cluster(6, 2, pushArrives, () => random.next())
        // Two signers revoke at the same moment, one changes the join policy, the other approves.
        cl.revoke(0, 'A')
        cl.revoke(1, 'B')
        cl.change(0, 'approve')
        cl.approve(1, 'n9')
        let rounds = 0
        const agreed = () => {
          const first = JSON.stringify(docsOf(cl, 0))
          return cl.rev.every((_, i) => JSON.stringify(docsOf(cl, i)) === first)
        }
        while (!agreed() && rounds < 40) {
          cl.round()
          rounds++
        }
        assert.ok(agreed(), `seed ${seed}: not agreed after ${rounds} periods`)
        const held = docsOf(cl, 0)
        assert.deepEqual(held.revoked, ['A', 'B'], `seed ${seed}: one list naming both`)
        assert.equal(held.policy, 'approve', `seed ${seed}`)
        assert.deepEqual(held.approved, ['n9'], `seed ${seed}`)
        // Settled: a further period sends no document anywhere.
        for (let i = 0; i < cl.n; i++)
          for (let j = 0; j < cl.n; j++)
            if (i !== j) assert.deepEqual(answerDigest(cl.docs(i), digestOf(cl.docs(j), true)), [])
      }
    })
  }
})

describe('anti-entropy: a raced list whose signer crashed (strict trust sim seed 199)', () => {
  for (const pushArrives of [0, 0.5, 1]) {
    test(`pushes arriving ${pushArrives * 100}% of the time: the live signer folds it in, every node ends with one list`, () => {
      for (let seed = 1; seed <= 25; seed++) {
        const random = seededRandom(seed)
        const cl = new Cluster(6, 2, pushArrives, () => random.next())
        // Signer 1, cut off with node 2, revoked C on top of v0 {A}: v1 {A, C}. Signer 0
        // and the rest went on to v2 {A, B, D}. Then signer 1 crashed for good.
        const v1 = list(1, 'A', 'C')
        const v2 = list(2, 'A', 'B', 'D')
        for (let i = 0; i < cl.n; i++) cl.rev[i] = revocationsStart(CLUSTER, i === 1 || i === 2 ? v1 : v2)
        cl.down.add(1)
        let rounds = 0
        const up = cl.up()
        const agreed = () => up.every((i) => docsOf(cl, i).list === docsOf(cl, up[0]!).list)
        const done = () => agreed() && docsOf(cl, 0).revoked?.join('') === 'ABCD'
        while (!done() && rounds < 40) {
          cl.round()
          rounds++
        }
        assert.deepEqual(
          docsOf(cl, 0).revoked,
          ['A', 'B', 'C', 'D'],
          `seed ${seed}: C revoked after ${rounds} periods`,
        )
        assert.ok(agreed(), `seed ${seed}: one list after ${rounds} periods`)
        for (const i of up) assert.deepEqual(cl.rev[i]!.raced, [], `seed ${seed}: nothing raced left at ${i}`)
      }
    })
  }
})

function docsOf(cl: Cluster, i: number) {
  const d = cl.docs(i)
  return {
    list: d.revocations?.signature,
    revoked: d.revocations?.entries.map((e) => e.nodeId).sort(),
    settings: d.settings?.sig,
    policy: d.settings?.settings.joinPolicy,
    approved: [...d.approvals.keys()].sort(),
  }
}
