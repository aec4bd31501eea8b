import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'
import {
  JOIN_ASK_TIMEOUT_MS,
  type JoinerEvent,
  joinerStart,
  joinerStep,
  NOT_A_SIGNER,
  SIGNER_HINTS_MAX,
  SIGNER_REACH_MS,
  type SignedReply,
  type SignerHint,
  signerHints,
} from '../../../../agent/trust/joiner.js'
import { conn, ofKind } from './fixtures.js'

const c = conn()
const a = conn('a')
const b = conn('b')
const abc = [a, b, conn('c')]
const retry = (conns: PeerConn[], monoMs: number): JoinerEvent => ({ kind: 'retry', conns, monoMs })
const refused = (from: PeerConn, reason: string, conns: PeerConn[], monoMs: number): JoinerEvent => ({
  kind: 'refused',
  conn: from,
  reason,
  message: 'no',
  conns,
  monoMs,
})
const hint = (p: PeerConn): SignerHint => ({ key: p.remoteKeyHex, host: '10.77.0.5', port: 49737 })
const named = (from: PeerConn, signers: SignerHint[], conns: PeerConn[], monoMs: number): JoinerEvent => ({
  kind: 'refused',
  conn: from,
  reason: NOT_A_SIGNER,
  message: 'no CA key',
  signers,
  conns,
  monoMs,
})
const settings = {
  id: '0123456789abcdef',
  name: 'home',
  joinPolicy: 'auto' as const,
  certValidityMs: 86_400_000,
}
const reply = (over: Partial<SignedReply> = {}): JoinerEvent => ({
  kind: 'signed',
  conn: c,
  proofOk: true,
  clusterMatches: true,
  certForUs: true,
  certPem: 'CERT',
  caPem: 'CA',
  cluster: settings,
  ...over,
})

describe('joiner', () => {
  test('asks one peer at a time: the first connection at once, later ones wait their turn', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const first = joinerStep(s, { kind: 'connected', conn: a, conns: [a], monoMs: 0 })
    assert.deepEqual(first.effects, [{ kind: 'ask', conn: a }])
    const second = joinerStep(first.state, { kind: 'connected', conn: b, conns: [a, b], monoMs: 100 })
    assert.deepEqual(second.effects, [], 'b waits while a has its time to answer')
    assert.deepEqual(
      joinerStep(second.state, retry([a, b], 2000)).effects,
      [],
      'a retry within the time asks nobody',
    )
  })

  test('no answer within JOIN_ASK_TIMEOUT_MS, or the connection gone: the next peer is asked, each in turn', () => {
    let s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry(abc, 0)).state
    const asked: string[] = [s.asked!.key]
    for (let i = 1; i <= 3; i++) {
      const r = joinerStep(s, retry(abc, i * JOIN_ASK_TIMEOUT_MS))
      assert.equal(ofKind(r.effects, 'ask').length, 1)
      s = r.state
      asked.push(s.asked!.key)
    }
    assert.equal(new Set(asked.slice(0, 3)).size, 3, 'each peer in turn')
    assert.equal(asked[3], asked[0], 'then round again')
    const gone = abc.filter((x) => x.remoteKeyHex !== s.asked!.key)
    const r = joinerStep(s, retry(gone, 3 * JOIN_ASK_TIMEOUT_MS + 1))
    assert.notEqual(
      ofKind(r.effects, 'ask')[0]?.conn.remoteKeyHex,
      s.asked!.key,
      'the asked peer left: move on',
    )
  })

  test('the order is the same every time for one joiner, and differs between joiners (they spread)', () => {
    const firstOf = (code: string) =>
      joinerStep(joinerStart(code, 'x', false), retry(abc, 0)).state.asked!.key
    assert.equal(firstOf('ABC-DEF'), firstOf('ABC-DEF'))
    const firsts = new Set(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'].map(firstOf))
    assert.ok(firsts.size > 1, 'eight joiners do not all ask the same peer first')
  })

  test('a peer without the CA key says so: the next is asked at once, and it is skipped until all said so', () => {
    const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry(abc, 0)).state
    const first = abc.find((x) => x.remoteKeyHex === s.asked!.key)!
    const r = joinerStep(s, refused(first, NOT_A_SIGNER, abc, 10))
    const next = ofKind(r.effects, 'ask')[0]?.conn
    assert.ok(next && next !== first)
    assert.equal(ofKind(r.effects, 'log').length, 0, 'not a refusal worth a warning')
    // Every peer says it: nobody is asked until the next period (no tight loop of asks and
    // refusals), then all are asked again in turn (one may have become a voter since).
    let t = r.state
    let asks = 0
    for (let i = 0; i < 10 && t.asked; i++) {
      const asked = abc.find((x) => x.remoteKeyHex === t.asked?.key)!
      const step = joinerStep(t, refused(asked, NOT_A_SIGNER, abc, 20))
      asks += ofKind(step.effects, 'ask').length
      t = step.state
    }
    assert.equal(asks, 1, 'the third peer was asked after the second refused; after the third, nobody')
    assert.equal(t.asked, null)
    const later = joinerStep(t, retry(abc, 2000))
    assert.equal(ofKind(later.effects, 'ask').length, 1)
    assert.equal(later.state.notSigners.size, 0)
  })

  describe('a question left unanswered: the members are asked again before the next signer', () => {
    // m1, m2 said they hold no CA key; x and y sign (they never refuse).
    const m1 = conn('e1')
    const m2 = conn('e2')
    const x = conn('f1')
    const y = conn('f2')
    const all = [m1, m2, x, y]
    /** Both members refused; one signer is asked and leaves the question unanswered. */
    const askedSigner = () => {
      let s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry(all, 0)).state
      for (const m of [m1, m2]) s = joinerStep(s, refused(m, NOT_A_SIGNER, all, 10)).state
      assert.ok(s.asked && [x, y].some((c) => c.remoteKeyHex === s.asked!.key), 'a signer is asked')
      assert.equal(s.notSigners.size, 2)
      return s
    }

    test('its time ran out: every member that refused is asked at once, no signer; the next signer one period later', () => {
      const s = askedSigner()
      const lapse = joinerStep(s, retry(all, JOIN_ASK_TIMEOUT_MS + 10))
      assert.deepEqual(
        ofKind(lapse.effects, 'ask')
          .map((f) => f.conn.remoteKeyHex)
          .sort(),
        [m1.remoteKeyHex, m2.remoteKeyHex],
      )
      assert.equal(lapse.state.asked, s.asked, 'the signer asked last stays the one to move on from')
      // One period later, nobody having answered: the other signer is asked, alone, and once.
      const next = joinerStep(lapse.state, retry(all, JOIN_ASK_TIMEOUT_MS + 2010))
      const asks = ofKind(next.effects, 'ask')
      assert.equal(asks.length, 1)
      assert.notEqual(asks[0]!.conn.remoteKeyHex, s.asked!.key)
      assert.ok([x, y].includes(asks[0]!.conn))
    })

    test("the signer's link went: the same; and a member's answer with our certificate is taken (saved first)", () => {
      const s = askedSigner()
      const left = all.filter((c) => c.remoteKeyHex !== s.asked!.key)
      const lapse = joinerStep(s, retry(left, 100))
      assert.equal(ofKind(lapse.effects, 'ask').length, 2)
      const answered = joinerStep(lapse.state, reply({ conn: m2 }))
      assert.equal(ofKind(answered.effects, 'save').length, 1)
    })

    test('once per unanswered question; a member that still holds nothing refuses and asks nothing new', () => {
      const s = askedSigner()
      const lapse = joinerStep(s, retry(all, JOIN_ASK_TIMEOUT_MS + 10))
      const refusal = joinerStep(lapse.state, refused(m1, NOT_A_SIGNER, all, JOIN_ASK_TIMEOUT_MS + 20))
      assert.deepEqual(ofKind(refusal.effects, 'ask'), [], 'm1 was not the peer asked')
      const next = joinerStep(refusal.state, retry(all, JOIN_ASK_TIMEOUT_MS + 2010))
      const again = joinerStep(next.state, retry(all, JOIN_ASK_TIMEOUT_MS + 4010))
      assert.deepEqual(ofKind(again.effects, 'ask'), [], 'the next signer has its time')
    })

    test('no member to ask (none refused yet): the next peer at once, as before', () => {
      let s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry([x, y], 0)).state
      s = joinerStep(s, retry([x, y], JOIN_ASK_TIMEOUT_MS + 10)).state
      assert.equal(s.recheckedFor, null)
      assert.ok(s.asked)
    })
  })

  test('the peer asked comes back on a new connection: asked again there (the question went with the old one)', () => {
    const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), {
      kind: 'connected',
      conn: a,
      conns: [a],
      monoMs: 0,
    })
    const again = conn('a')
    const r = joinerStep(s.state, { kind: 'connected', conn: again, conns: [again, b], monoMs: 50 })
    assert.deepEqual(r.effects, [{ kind: 'ask', conn: again }])
  })

  test('pending: the signer that listed us is asked again every period (an approval may have reached it), no other', () => {
    let s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), {
      kind: 'connected',
      conn: a,
      conns: [a],
      monoMs: 0,
    }).state
    s = joinerStep(s, { kind: 'pending', code: 'ABC-DEF' }).state
    for (const t of [2000, JOIN_ASK_TIMEOUT_MS * 3])
      assert.deepEqual(joinerStep(s, retry([a, b], t)).effects, [{ kind: 'ask', conn: a }])
  })

  test('a proven reply with our certificate is saved, then adopted: a member, which asks nothing more', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, reply())
    assert.deepEqual(r.effects, [{ kind: 'save', certPem: 'CERT', caPem: 'CA', cluster: settings }])
    assert.equal(r.state.status, 'saving')
    // Saving: nobody is asked, a second answer changes nothing, nothing is adopted yet.
    for (const e of [
      retry([a, b], 0),
      reply(),
      { kind: 'connected', conn: c, conns: [c], monoMs: 0 } as const,
    ])
      assert.deepEqual(joinerStep(r.state, e).effects, [])
    const saved = joinerStep(r.state, { kind: 'saved' })
    assert.deepEqual(saved.effects, [{ kind: 'adopt', certPem: 'CERT', caPem: 'CA', cluster: settings }])
    const member = saved.state
    assert.equal(member.status, 'member')
    assert.deepEqual(joinerStep(member, retry([c], 0)).effects, [])
    assert.deepEqual(
      joinerStep(member, reply()).effects,
      [],
      'a second signer answering later changes nothing',
    )
  })

  test('a reply that does not prove the secret, names another cluster or carries a certificate not ours is ignored', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    for (const bad of [
      reply({ proofOk: false }),
      reply({ clusterMatches: false }),
      reply({ certForUs: false }),
    ]) {
      const r = joinerStep(s, bad)
      assert.equal(ofKind(r.effects, 'save').length, 0)
      assert.equal(ofKind(r.effects, 'log')[0]?.level, 'warn')
      assert.equal(r.state.status, 'joining')
    }
  })

  test('pending: said once on the console with the approve command and the code', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, { kind: 'pending', code: 'ABC-DEF' })
    assert.equal(r.state.status, 'pending')
    assert.match(ofKind(r.effects, 'log')[0]?.text ?? '', /homecloud approve pi4-2.*ABC-DEF/)
    assert.deepEqual(joinerStep(r.state, { kind: 'pending', code: 'ABC-DEF' }).effects, [])
  })

  test('a refusal is counted by reason and logged; the joiner keeps asking, the next peer after the timeout', () => {
    const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry([a, b], 0)).state
    const first = [a, b].find((x) => x.remoteKeyHex === s.asked!.key)!
    const r = joinerStep(s, refused(first, 'bad-proof', [a, b], 10))
    assert.deepEqual(ofKind(r.effects, 'count')[0]?.labels, { reason: 'bad-proof' })
    assert.deepEqual(ofKind(r.effects, 'ask'), [])
    const next = joinerStep(r.state, retry([a, b], JOIN_ASK_TIMEOUT_MS))
    assert.notEqual(ofKind(next.effects, 'ask')[0]?.conn, first)
  })

  describe('signers named by members without the CA key', () => {
    const s1 = conn('51')
    const s2 = conn('52')

    test('none of our links signs: the mesh is asked for a link to a named one, which is asked first once linked', () => {
      const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry([a], 0)).state
      const r = joinerStep(s, named(a, [hint(s1), hint(s2)], [a], 10))
      const reach = ofKind(r.effects, 'reach')
      assert.equal(reach.length, 1, 'one signer at a time')
      assert.equal(reach[0]!.forMs, SIGNER_REACH_MS)
      const target = reach[0]!.signer.key === s1.remoteKeyHex ? s1 : s2
      assert.equal(r.state.asked, null, 'a said no and is our only link: nobody to ask yet')
      // The link opens beside a new unnamed peer: the named signer is asked, not b.
      const linked = joinerStep(r.state, {
        kind: 'connected',
        conn: target,
        conns: [a, b, target],
        monoMs: 500,
      })
      assert.deepEqual(linked.effects, [{ kind: 'ask', conn: target }])
      assert.deepEqual(
        ofKind(joinerStep(linked.state, retry([a, b, target], 1000)).effects, 'reach'),
        [],
        'linked to a named signer: no more reaching',
      )
    })

    test('a named signer that did not link or answer in JOIN_ASK_TIMEOUT_MS: the next one is reached', () => {
      const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry([a], 0)).state
      const r = joinerStep(s, named(a, [hint(s1), hint(s2)], [a], 10))
      const first = ofKind(r.effects, 'reach')[0]!.signer.key
      assert.deepEqual(ofKind(joinerStep(r.state, retry([a], 2000)).effects, 'reach'), [], 'it has its time')
      const later = joinerStep(r.state, retry([a], 10 + JOIN_ASK_TIMEOUT_MS))
      const second = ofKind(later.effects, 'reach')[0]!.signer.key
      assert.notEqual(second, first)
      const again = joinerStep(later.state, retry([a], 10 + 2 * JOIN_ASK_TIMEOUT_MS))
      assert.equal(ofKind(again.effects, 'reach')[0]!.signer.key, first, 'then round again')
    })

    test('signed once: a named signer linking while the peer asked still has its time waits its turn', () => {
      const s = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), retry([a, b], 0)).state
      const asked = [a, b].find((x) => x.remoteKeyHex === s.asked!.key)!
      const other = asked === a ? b : a
      // The other peer (not the one asked) names a signer; the asked one is still thinking.
      const r = joinerStep(s, named(other, [hint(s1)], [a, b], 10))
      assert.deepEqual(ofKind(r.effects, 'ask'), [])
      const linked = joinerStep(r.state, { kind: 'connected', conn: s1, conns: [a, b, s1], monoMs: 100 })
      assert.deepEqual(linked.effects, [], `${asked === a ? 'a' : 'b'} was asked and has not answered`)
    })

    test('names are bounded, the refusing peer is never one, and a named peer that refuses is dropped', () => {
      const many = Array.from({ length: SIGNER_HINTS_MAX + 4 }, (_, i) => hint(conn(`6${i}`)))
      let r = joinerStep(joinerStart('ABC-DEF', 'pi4-2', false), named(a, [...many, hint(a)], [a], 0))
      assert.ok(r.state.signers.size <= SIGNER_HINTS_MAX)
      assert.ok(!r.state.signers.has(a.remoteKeyHex), 'a said it holds no CA key')
      const reached = ofKind(r.effects, 'reach')[0]!.signer
      const liar = conn(reached.key)
      r = joinerStep(r.state, named(liar, [], [a, liar], 100))
      assert.ok(!r.state.signers.has(reached.key), 'it said no itself')
    })

    test('what a member names: the voters it sees, with their mesh address, at most SIGNER_HINTS_MAX', () => {
      const v = (i: number, addresses: string[] = [`10.77.0.${i}`]) => ({
        publicKey: String(i).padEnd(64, '0'),
        addresses,
        ports: { dht: 49737 },
      })
      assert.deepEqual(signerHints([v(1), v(2, [])]), [
        { key: '1'.padEnd(64, '0'), host: '10.77.0.1', port: 49737 },
      ])
      assert.equal(signerHints(Array.from({ length: 20 }, (_, i) => v(i + 1))).length, SIGNER_HINTS_MAX)
    })
  })
})
