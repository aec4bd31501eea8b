import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { encodeFrame, FrameDecoder, WIRE_LIMITS } from '../../../../agent/mesh/wire.js'
import {
  type RevocationEntry,
  type RevocationList,
  signRevocations,
  verifyRevocations,
} from '../../../../agent/pki/revocations.js'
import { answerDigest, digestOf } from '../../../../agent/trust/anti-entropy.js'
import {
  ASSEMBLIES_MAX,
  addPage,
  type PagesState,
  pagesStart,
  REVOCATIONS_WHOLE_BYTES_MAX,
  revocationMessages,
} from '../../../../agent/trust/revocation-pages.js'
import { revocationsStart, revocationsStep } from '../../../../agent/trust/revocations.js'
import { RevocationsPage, type TrustMessage } from '../../../../agent/trust/wire.js'
import { testCa } from '../pki/fixtures.js'
import { conn } from './fixtures.js'

const CLUSTER = 'c-test'
const hex = (s: string, n: number) => createHash('sha256').update(s).digest('hex').repeat(2).slice(0, n)
/** Entries as a community cluster's would look: a 32-hex serial, a 64-hex node id, a short reason. */
const entries = (n: number, tag = 'e'): RevocationEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    serial: hex(`${tag}-serial-${i}`, 32),
    nodeId: hex(`${tag}-node-${i}`, 64),
    revokedAtMs: 1_700_000_000_000 + i,
    reason: 'board retired',
  }))
const sign = (version: number, list: RevocationEntry[]) =>
  signRevocations({ clusterId: CLUSTER, version, entries: list }, testCa().keyPem)

const big = sign(7, entries(3000))
const pagesOf = (list: RevocationList) => revocationMessages(list).map((m) => RevocationsPage.parse(m))

/** Feeds pages in this order; the outcome of the last. */
function feed(pages: ReturnType<typeof pagesOf>, s: PagesState = pagesStart(), ...held: RevocationList[]) {
  let state = s
  const outcomes = []
  for (const p of pages) {
    const r = addPage(
      state,
      p,
      held.map((l) => l.signature),
      0,
    )
    state = r.state
    outcomes.push(r.outcome)
  }
  return { state, outcomes, last: outcomes.at(-1) }
}

describe('revocation lists larger than a frame', () => {
  test('a 3000-entry list is too big for one frame: sent whole, the receiver refuses it as oversized', () => {
    const frame = encodeFrame({ t: 'revocations', list: big })
    assert.ok(frame.length > WIRE_LIMITS.frameBytesMax, `${frame.length} bytes`)
    const got = new FrameDecoder().push(frame)
    assert.deepEqual(got, [{ ok: false, reason: 'oversized', declaredBytes: frame.length - 4 }])
  })

  test('…so it goes in pages, each inside a frame, each passing the schema', () => {
    const msgs = revocationMessages(big)
    assert.ok(msgs.length > 1)
    for (const m of msgs) {
      assert.equal(m.t, 'revocations-page')
      assert.ok(encodeFrame(m).length <= WIRE_LIMITS.frameBytesMax, `${encodeFrame(m).length} bytes`)
      assert.ok(RevocationsPage.safeParse(m).success)
    }
    console.log(`3000 entries: ${msgs.length} pages, ${JSON.stringify(big).length} bytes as one document`)
  })

  test('the pages, in any order, duplicated, rebuild the very list, which verifies against the CA', () => {
    const pages = pagesOf(big)
    const shuffled = [...pages].reverse()
    shuffled.splice(1, 0, pages[2]!, pages[0]!)
    const r = feed(shuffled)
    const done = r.outcomes.filter((o) => o.kind === 'complete')
    assert.equal(done.length, 1, 'complete once, when the last missing page came')
    assert.equal(r.last?.kind, 'kept', 'a late duplicate (before the list is adopted) starts over, bounded')
    const list = (done[0] as { list: RevocationList }).list
    assert.deepEqual(list, big)
    const v = verifyRevocations(list, testCa().certPem, { clusterId: CLUSTER })
    assert.ok(v.ok)
    assert.equal(feed(pages).state.assemblies.size, 0, 'nothing kept once done')
  })

  test('a small list still goes whole, as before', () => {
    const small = sign(1, entries(10))
    assert.deepEqual(revocationMessages(small), [{ t: 'revocations', list: small }])
    assert.ok(JSON.stringify(revocationMessages(small)[0]).length < REVOCATIONS_WHOLE_BYTES_MAX)
  })

  test('the largest list allowed (10 000 entries of the largest size) still fits the page limits', () => {
    const huge: RevocationEntry[] = Array.from({ length: 10_000 }, (_, i) => ({
      serial: hex(`s${i}`, 64),
      nodeId: hex(`n${i}`, 64).padEnd(256, 'x'),
      revokedAtMs: i,
      reason: 'r'.repeat(512),
    }))
    const msgs = revocationMessages({ clusterId: CLUSTER, version: 1, entries: huge, signature: 'c2ln' })
    for (const m of msgs) {
      assert.ok(RevocationsPage.safeParse(m).success, 'within the page count and entry limits')
      assert.ok(encodeFrame(m).length <= WIRE_LIMITS.frameBytesMax)
    }
  })

  test('a tampered entry: the list rebuilds but fails the signature — nothing is taken from pages unverified', () => {
    const pages = pagesOf(big)
    const bad = pages.map((p, i) =>
      i === 1
        ? { ...p, entries: p.entries.map((e, j) => (j === 0 ? { ...e, nodeId: 'f'.repeat(64) } : e)) }
        : p,
    )
    const r = feed(bad)
    assert.equal(r.last?.kind, 'complete')
    const v = verifyRevocations((r.last as { list: RevocationList }).list, testCa().certPem)
    assert.equal(v.ok ? 'ok' : v.reason, 'bad-signature')
  })

  test('pages that cannot be one list are refused and forgotten: sizes disagree, entries missing, index past the end', () => {
    const pages = pagesOf(big)
    const disagree = feed([pages[0]!, { ...pages[1]!, pages: pages[1]!.pages + 1 }])
    assert.equal(disagree.last?.kind, 'refused')
    assert.equal(disagree.state.assemblies.size, 0)
    const short = feed(pages.map((p, i) => (i === 0 ? { ...p, entries: p.entries.slice(1) } : p)))
    assert.match(String((short.last as { message?: string }).message), /entries/)
    const past = feed([{ ...pages[0]!, index: pages[0]!.pages }])
    assert.equal(past.last?.kind, 'refused')
  })

  test('pages of a list we hold (winner or raced) are not collected; any other is, an older one too', () => {
    const pages = pagesOf(big)
    assert.equal(feed([pages[0]!], pagesStart(), big).last?.kind, 'ignored')
    const newer = sign(8, entries(3000))
    assert.equal(feed([pages[0]!], pagesStart(), newer, big).last?.kind, 'ignored')
    // An older list may hold entries the newer lacks (a raced list whose signer was cut off).
    assert.equal(feed([pages[0]!], pagesStart(), newer).last?.kind, 'kept')
    const raced = sign(7, entries(3000, 'other'))
    assert.equal(feed([pages[0]!], pagesStart(), raced).last?.kind, 'kept')
  })

  test('memory is bounded: at most ASSEMBLIES_MAX lists collected at once, the oldest dropped', () => {
    let s = pagesStart()
    const first = pagesOf(big)[0]!
    for (let v = 1; v <= ASSEMBLIES_MAX + 2; v++)
      s = addPage(s, { ...first, head: { ...first.head, version: v, signature: `sig${v}` } }, [], v).state
    assert.equal(s.assemblies.size, ASSEMBLIES_MAX)
    assert.ok([...s.assemblies.keys()].every((k) => !k.startsWith('1/')))
  })

  test('the revocations machine and the anti-entropy answer send pages of a big list', () => {
    const c = conn()
    const r = revocationsStep(revocationsStart(CLUSTER, big), { kind: 'connected', conn: c })
    const sent = r.effects.map((f) => (f as { msg?: TrustMessage }).msg?.t)
    assert.ok(sent.length > 1 && sent.every((t) => t === 'revocations-page'))
    const docs = { revocations: big, revocationsRaced: [], settings: null, approvals: new Map() }
    const behind = digestOf({ ...docs, revocations: undefined }, false)
    const answer = answerDigest(docs, behind).map((m) => m.t)
    assert.equal(answer.filter((t) => t === 'revocations-page').length, sent.length)
  })
})
