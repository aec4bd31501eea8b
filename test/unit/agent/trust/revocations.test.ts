import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type RevocationList, signRevocations } from '../../../../agent/pki/revocations.js'
import {
  type RevocationsEffect,
  type RevocationsEvent,
  type RevocationsState,
  revocationEntry,
  revocationsStart,
  revocationsStep,
} from '../../../../agent/trust/revocations.js'
import { TRUST_LIMITS } from '../../../../agent/trust/wire.js'
import { testCa } from '../pki/fixtures.js'
import { ofKind } from './fixtures.js'

const CLUSTER = 'c-test'
const entry = (nodeId: string, serial: string) => ({ serial, nodeId, revokedAtMs: 1, reason: 'test' })

/** A small cluster of revocation machines: signers sign, every broadcast reaches every other node. */
class Cluster {
  readonly states: RevocationsState[]
  private readonly queue: { to: number; list: RevocationList }[] = []
  applied: RevocationList[][]

  constructor(
    readonly n: number,
    readonly signers: number,
    private readonly rand: () => number,
  ) {
    this.states = Array.from({ length: n }, () => revocationsStart(CLUSTER, undefined))
    this.applied = Array.from({ length: n }, () => [])
  }

  feed(i: number, e: RevocationsEvent): void {
    const r = revocationsStep(this.states[i]!, e)
    this.states[i] = r.state
    for (const f of r.effects) this.apply(i, f)
  }

  private apply(i: number, f: RevocationsEffect): void {
    if (f.kind === 'apply') this.applied[i]!.push(f.list)
    if (f.kind === 'sign') this.feed(i, { kind: 'issued', list: signRevocations(f.body, testCa().keyPem) })
    if (f.kind === 'broadcast' && f.msg.t === 'revocations')
      for (let j = 0; j < this.n; j++) if (j !== i) this.queue.push({ to: j, list: f.msg.list })
  }

  /** Delivers every message, in a random order, until nothing is in flight. */
  settle(): void {
    while (this.queue.length > 0) {
      const k = Math.floor(this.rand() * this.queue.length)
      const [m] = this.queue.splice(k, 1)
      this.feed(m!.to, { kind: 'received', list: m!.list, signer: m!.to < this.signers })
    }
  }

  /** The nodes each node refuses: the union of every list it applied (the certificate book's rule). */
  refused(i: number): string[] {
    return [...new Set(this.applied[i]!.flatMap((l) => l.entries.map((e) => e.nodeId)))].sort()
  }
}

function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

describe('revocations', () => {
  test('an admin revoking on a signer: the next version is signed, adopted, saved, passed on, on the timeline', () => {
    const s = revocationsStart(CLUSTER, undefined)
    const r = revocationsStep(s, { kind: 'revoke', entry: entry('A', 'a1'), name: 'pi4-2' })
    const sign = ofKind(r.effects, 'sign')[0]
    assert.deepEqual(
      sign?.body.entries.map((e) => e.nodeId),
      ['A'],
    )
    assert.equal(ofKind(r.effects, 'event')[0]?.event.message, 'pi4-2 revoked: test')
    const list = signRevocations(sign!.body, testCa().keyPem)
    const adopted = revocationsStep(r.state, { kind: 'issued', list })
    assert.deepEqual(
      adopted.effects.map((f) => f.kind),
      ['apply', 'save', 'broadcast'],
    )
    assert.equal(adopted.state.list, list)
  })

  test('an older or equal list is applied (its nodes stay refused) but neither saved nor passed on', () => {
    const v1 = signRevocations(
      { clusterId: CLUSTER, version: 1, entries: [entry('A', 'a1')] },
      testCa().keyPem,
    )
    const v0 = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('A', 'a1')] },
      testCa().keyPem,
    )
    const s = revocationsStep(revocationsStart(CLUSTER, undefined), {
      kind: 'received',
      list: v1,
      signer: true,
    }).state
    assert.deepEqual(
      revocationsStep(s, { kind: 'received', list: v0, signer: true }).effects.map((f) => f.kind),
      ['apply'],
    )
    const other = { ...v1, clusterId: 'other' }
    assert.deepEqual(revocationsStep(s, { kind: 'received', list: other, signer: true }).effects, [])
  })
})

describe('revocations: several signers', () => {
  test('two signers racing to one version: a signer that sees both issues their union; a non-signer only adopts', () => {
    const a = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('A', 'a1')] },
      testCa().keyPem,
    )
    const b = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('B', 'b1')] },
      testCa().keyPem,
    )
    const holdsA = revocationsStep(revocationsStart(CLUSTER, undefined), { kind: 'issued', list: a }).state
    const signer = revocationsStep(holdsA, { kind: 'received', list: b, signer: true })
    const union = ofKind(signer.effects, 'sign')[0]?.body
    assert.deepEqual(union?.version, 1)
    assert.deepEqual(union?.entries.map((e) => e.nodeId).sort(), ['A', 'B'])
    assert.equal(
      ofKind(revocationsStep(holdsA, { kind: 'received', list: b, signer: false }).effects, 'sign').length,
      0,
    )
  })

  test('a signer adopting a race winner and signing the union saves twice in one step: the union is the last save asked', () => {
    // The shell must write these in order (core/saves.ts SaveLanes): fired and forgotten,
    // the winner's rename could land after the union's and leave the loser's entry off disk.
    const a = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('A', 'a1')] },
      testCa().keyPem,
    )
    const b = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('B', 'b1')] },
      testCa().keyPem,
    )
    const [winner, loser] = a.signature > b.signature ? [a, b] : [b, a]
    const cl = new Cluster(1, 1, () => 0)
    const saves: RevocationList[] = []
    const feed = (e: RevocationsEvent) => {
      const r = revocationsStep(cl.states[0]!, e)
      cl.states[0] = r.state
      for (const f of r.effects) {
        if (f.kind === 'save') saves.push(f.list)
        if (f.kind === 'sign') feed({ kind: 'issued', list: signRevocations(f.body, testCa().keyPem) })
      }
    }
    feed({ kind: 'issued', list: loser })
    saves.length = 0
    feed({ kind: 'received', list: winner, signer: true })
    assert.deepEqual(
      saves.map((l) => [l.version, l.entries.length]),
      [
        [0, 1],
        [1, 2],
      ],
    )
    assert.equal(cl.states[0]!.list, saves.at(-1))
  })

  test('any order of delivery, two signers revoking at once: every node ends with one list naming both', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const cl = new Cluster(5, 2, seeded(seed))
      cl.feed(0, { kind: 'revoke', entry: entry('A', 'a1'), name: 'a' })
      cl.feed(1, { kind: 'revoke', entry: entry('B', 'b1'), name: 'b' })
      cl.settle()
      const lists = cl.states.map((s) => s.list)
      const first = lists[0]!
      for (const l of lists) assert.deepEqual(l, first, `seed ${seed}: every node holds the same list`)
      assert.deepEqual(first.entries.map((e) => e.nodeId).sort(), ['A', 'B'], `seed ${seed}`)
      for (let i = 0; i < cl.n; i++) assert.deepEqual(cl.refused(i), ['A', 'B'], `seed ${seed} node ${i}`)
    }
  })

  test('a new connection is handed the list held', () => {
    const a = signRevocations(
      { clusterId: CLUSTER, version: 0, entries: [entry('A', 'a1')] },
      testCa().keyPem,
    )
    const s = revocationsStart(CLUSTER, a)
    const conn = { remoteKeyHex: 'x' } as never
    assert.deepEqual(revocationsStep(s, { kind: 'connected', conn }).effects, [
      { kind: 'send', conn, msg: { t: 'revocations', list: a } },
    ])
    assert.deepEqual(
      revocationsStep(revocationsStart(CLUSTER, undefined), { kind: 'connected', conn }).effects,
      [],
    )
  })
})

describe('revocations: a raced list outlives its signer (strict sim seed 199)', () => {
  // Every node was at v0 {A}. Signer S1, cut off with non-signer N, revoked C: v1 {A, C}.
  // On the other side signer S0 revoked B then D: v2 {A, B, D}. After the heal v2 wins on
  // version and S1 crashed, so S1 cannot fold C in: N (the only other holder of v1) must.
  const sign = (version: number, ...ids: string[]) =>
    signRevocations(
      { clusterId: CLUSTER, version, entries: ids.map((id) => entry(id, id.toLowerCase())) },
      testCa().keyPem,
    )
  const v1 = sign(1, 'A', 'C')
  const v2 = sign(2, 'A', 'B', 'D')
  const broadcasts = (effects: RevocationsEffect[]) =>
    ofKind(effects, 'broadcast').map((f) => (f.msg.t === 'revocations' ? f.msg.list.version : -1))

  test('a non-signer whose list loses to one not containing it keeps it, saves it and passes it on', () => {
    const n = revocationsStart(CLUSTER, v1)
    const r = revocationsStep(n, { kind: 'received', list: v2, signer: false })
    assert.equal(r.state.list, v2)
    assert.deepEqual(r.state.raced, [v1])
    assert.deepEqual(broadcasts(r.effects), [2, 1], 'the winner, then the raced list for a signer')
    assert.deepEqual(ofKind(r.effects, 'save').at(-1)?.raced, [v1])
    assert.equal(ofKind(r.effects, 'sign').length, 0)
    // Heard again (from another neighbour): nothing new to pass on.
    assert.deepEqual(revocationsStep(r.state, { kind: 'received', list: v1, signer: false }).effects, [
      { kind: 'apply', list: v1 },
    ])
  })

  test('…and the raced list received after the winner is kept too', () => {
    const n = revocationsStart(CLUSTER, v2)
    const r = revocationsStep(n, { kind: 'received', list: v1, signer: false })
    assert.equal(r.state.list, v2)
    assert.deepEqual(r.state.raced, [v1])
    assert.deepEqual(broadcasts(r.effects), [1])
  })

  test('a new connection is handed the winner and every raced list', () => {
    const s = revocationsStart(CLUSTER, v2, [v1])
    const conn = { remoteKeyHex: 'x' } as never
    assert.deepEqual(revocationsStep(s, { kind: 'connected', conn }).effects, [
      { kind: 'send', conn, msg: { t: 'revocations', list: v2 } },
      { kind: 'send', conn, msg: { t: 'revocations', list: v1 } },
    ])
  })

  test('a signer receiving it signs the union; the union, passed back, ends the race everywhere', () => {
    const s0 = revocationsStep(revocationsStart(CLUSTER, v2), { kind: 'received', list: v1, signer: true })
    const body = ofKind(s0.effects, 'sign')[0]?.body
    assert.equal(body?.version, 3)
    assert.deepEqual(
      body?.entries.map((e) => e.nodeId),
      ['A', 'B', 'C', 'D'],
    )
    assert.deepEqual(broadcasts(s0.effects), [], 'a signer passes on the union, not the raced list')
    const union = signRevocations(body!, testCa().keyPem)
    const n = revocationsStart(CLUSTER, v2, [v1])
    const r = revocationsStep(n, { kind: 'received', list: union, signer: false })
    assert.equal(r.state.list, union)
    assert.deepEqual(r.state.raced, [])
    assert.deepEqual(ofKind(r.effects, 'save').at(-1)?.raced, [])
  })

  test('an admin revoking on a signer that holds a raced list folds it in', () => {
    const s = revocationsStart(CLUSTER, v2, [v1])
    const r = revocationsStep(s, { kind: 'revoke', entry: entry('E', 'e'), name: 'e' })
    assert.deepEqual(
      ofKind(r.effects, 'sign')[0]?.body.entries.map((e) => e.nodeId),
      ['A', 'B', 'C', 'D', 'E'],
    )
  })

  test('an older list contained in the winner is not kept; a raced list contained in a newer raced one is dropped', () => {
    const v0 = sign(0, 'A')
    const s = revocationsStep(revocationsStart(CLUSTER, v2), { kind: 'received', list: v0, signer: false })
    assert.deepEqual(s.state.raced, [])
    const v3 = sign(3, 'A', 'C', 'E')
    const r = revocationsStep(revocationsStart(CLUSTER, v2, [v1]), {
      kind: 'received',
      list: sign(1, 'A', 'F'),
      signer: false,
    })
    assert.equal(r.state.raced.length, 2, 'two branches neither containing the other')
    const t = revocationsStep(r.state, { kind: 'received', list: v3, signer: false })
    assert.equal(t.state.list, v3)
    // v2 lost to v3 and is not contained in it; v1 is contained in v3; {A, F} is not.
    assert.deepEqual(t.state.raced.map((l) => l.entries.map((e) => e.nodeId).join('')).sort(), ['ABD', 'AF'])
  })

  test('at most revocationsRacedMax lists are kept, the greatest in the total order', () => {
    let s = revocationsStart(CLUSTER, sign(50, 'A'))
    for (let i = 0; i < TRUST_LIMITS.revocationsRacedMax + 3; i++)
      s = revocationsStep(s, { kind: 'received', list: sign(i, `F${i}`), signer: false }).state
    assert.equal(s.raced.length, TRUST_LIMITS.revocationsRacedMax)
    assert.equal(s.raced.at(-1)?.version, 3)
  })
})

describe('revocations: the entry an admin adds', () => {
  test('names the certificate it knows, else the node id, so two uncertified nodes never share a serial', () => {
    assert.equal(revocationEntry('1f2e', 'aaaa', 5, 'lost').serial, '1f2e')
    const a = revocationEntry(undefined, '0123456789abcdef0123', 5, 'lost')
    const b = revocationEntry(undefined, 'fedcba98765432100123', 6, 'lost')
    assert.notEqual(a.serial, b.serial)
    assert.deepEqual(a, {
      serial: '0123456789abcdef0123',
      nodeId: '0123456789abcdef0123',
      revokedAtMs: 5,
      reason: 'lost',
    })
  })
})
