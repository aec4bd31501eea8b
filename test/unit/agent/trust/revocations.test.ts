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
