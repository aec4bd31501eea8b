import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'
import {
  JOIN_ASK_TIMEOUT_MS,
  type JoinerEvent,
  joinerStart,
  joinerStep,
  NOT_A_SIGNER,
  type SignedReply,
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

  test('a proven reply with our certificate is adopted; adopted → member, which asks nothing more', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, reply())
    assert.deepEqual(ofKind(r.effects, 'adopt'), [
      { kind: 'adopt', certPem: 'CERT', caPem: 'CA', cluster: settings },
    ])
    const member = joinerStep(r.state, { kind: 'adopted' }).state
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
      assert.equal(ofKind(r.effects, 'adopt').length, 0)
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
})
