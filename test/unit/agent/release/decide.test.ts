import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Bitfield } from '../../../../agent/release/bitfield.js'
import { type PeerView, pickRequests, uploadDecision } from '../../../../agent/release/decide.js'

function bits(size: number, held: number[] | 'all'): Bitfield {
  const b = new Bitfield(size)
  for (let i = 0; i < size; i++) if (held === 'all' || held.includes(i)) b.set(i)
  return b
}
const peer = (key: string, have: Bitfield, o: Partial<PeerView> = {}): PeerView => ({
  key,
  have,
  inFlight: 0,
  backoffUntilMs: 0,
  ...o,
})
let seed = 1
const random = () => {
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
}
const base = {
  inFlight: new Set<number>(),
  pieceBackoff: new Map(),
  nowMs: 1000,
  inFlightMax: 6,
  perPeerMax: 2,
  random,
}

describe('spreading decisions', () => {
  it('an uploader sends a held piece once, then names where it went until that node is gone or the resend time passed', () => {
    const s = {
      slotsUsed: 0,
      slotsMax: 2,
      sent: new Map([[3, { atMs: 900, to: 'b' }]]),
      connected: new Set(['a', 'b']),
    }
    const ask = (piece: number, from = 'a') => ({ piece, from })
    assert.deepEqual(uploadDecision(s, ask(1), false, 1000, 500), { send: false, why: 'missing' })
    assert.deepEqual(uploadDecision(s, ask(1), true, 1000, 500), { send: true })
    assert.deepEqual(uploadDecision(s, ask(3), true, 1000, 500), { send: false, why: 'elsewhere', to: 'b' })
    assert.deepEqual(uploadDecision(s, ask(3), true, 1500, 500), { send: true }, 'resend time passed')
    assert.deepEqual(
      uploadDecision({ ...s, connected: new Set(['a']) }, ask(3), true, 1000, 500),
      { send: true },
      'the node it went to is gone',
    )
    assert.deepEqual(uploadDecision(s, ask(3, 'b'), true, 1000, 500), { send: true }, 'it went to the asker')
    assert.deepEqual(uploadDecision({ ...s, slotsUsed: 2 }, ask(1), true, 1000, 500), {
      send: false,
      why: 'busy',
    })
  })

  it('a peer that said elsewhere for a piece is not asked for it again until its refusal ends', () => {
    const peers = [
      peer('origin', bits(2, 'all'), { refusedUntilMs: new Map([[0, 1500]]) }),
      peer('b', bits(2, [1])),
    ]
    const asks = pickRequests({ ...base, missing: [0, 1], peers })
    assert.deepEqual(asks, [{ piece: 1, peer: 'b' }])
    const later = pickRequests({ ...base, missing: [0], peers, nowMs: 1500 })
    assert.deepEqual(later, [{ piece: 0, peer: 'origin' }])
  })

  it('asks for the rarest piece first and never for one nobody has', () => {
    const asks = pickRequests({
      ...base,
      missing: [0, 1, 2, 3],
      peers: [peer('origin', bits(4, [0, 1, 2])), peer('b', bits(4, [0, 1]))],
      inFlightMax: 1,
    })
    assert.deepEqual(asks, [{ piece: 2, peer: 'origin' }])
  })

  it('prefers a holder that is still downloading over a complete one, and bounds requests per peer', () => {
    const asks = pickRequests({
      ...base,
      missing: [0, 1, 2],
      peers: [peer('origin', bits(3, 'all')), peer('partial', bits(3, [0, 1, 2].slice(0, 2)))],
    })
    const byPeer = (k: string) =>
      asks
        .filter((a) => a.peer === k)
        .map((a) => a.piece)
        .sort()
    assert.deepEqual(byPeer('partial'), [0, 1])
    assert.deepEqual(byPeer('origin'), [2])
  })

  it('skips pieces in flight or backed off, and peers backed off', () => {
    const asks = pickRequests({
      ...base,
      missing: [0, 1, 2],
      inFlight: new Set([0]),
      pieceBackoff: new Map([[1, 2000]]),
      peers: [peer('a', bits(3, 'all')), peer('b', bits(3, 'all'), { backoffUntilMs: 5000 })],
    })
    assert.deepEqual(asks, [{ piece: 2, peer: 'a' }])
  })

  it('many downloaders of an origin-only release ask it for different pieces (random ties)', () => {
    const n = 64
    const picks = new Set<number>()
    for (let d = 0; d < 5; d++) {
      for (const a of pickRequests({
        ...base,
        missing: [...Array(n).keys()],
        peers: [peer('origin', bits(n, 'all'))],
        perPeerMax: 1,
      }))
        picks.add(a.piece)
    }
    assert.ok(picks.size >= 4, `five downloaders picked only ${picks.size} distinct pieces`)
  })
})
