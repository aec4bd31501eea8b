import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import {
  PieceAnswer,
  PieceRequest,
  parseLine,
  StreamReader,
} from '../../../../agent/release/piece-protocol.js'

// A stream's readable side as the reader sees it: chunks, split anywhere.
function chunks(...parts: (string | Buffer)[]): Stream {
  return (async function* () {
    for (const p of parts) yield Buffer.isBuffer(p) ? p : Buffer.from(p)
  })() as unknown as Stream
}

describe('piece protocol', () => {
  it('reads a line and an exact body across chunk boundaries', async () => {
    const r = new StreamReader(chunks('{"ok":tr', 'ue,"bytes":5}\nab', 'cde', 'extra'))
    assert.deepEqual(parseLine(PieceAnswer, await r.line()), { ok: true, bytes: 5 })
    assert.equal((await r.bytes(5)).toString(), 'abcde')
  })

  it('a body cut short comes back short (the hash check refuses it)', async () => {
    const r = new StreamReader(chunks('{"ok":true,"bytes":10}\n', 'abc'))
    await r.line()
    assert.equal((await r.bytes(10)).length, 3)
  })

  it('refuses an endless line and a line the stream never finishes', async () => {
    await assert.rejects(new StreamReader(chunks('x'.repeat(20_000))).line(), /longer than/)
    await assert.rejects(new StreamReader(chunks('{"t":')).line(), /ended inside a line/)
  })

  it('requests and answers are parsed strictly', () => {
    const id = 'a'.repeat(64)
    assert.deepEqual(parseLine(PieceRequest, JSON.stringify({ t: 'piece', id, i: 3 })), {
      t: 'piece',
      id,
      i: 3,
    })
    for (const bad of [
      '{"t":"piece","id":"x","i":1}',
      `{"t":"piece","id":"${id}","i":-1}`,
      `{"t":"have","id":"${id}","extra":1}`,
      'not json',
    ])
      assert.equal(parseLine(PieceRequest, bad), null, bad)
    assert.equal(parseLine(PieceAnswer, '{"ok":true,"bytes":99999999999}'), null)
    assert.deepEqual(parseLine(PieceAnswer, '{"ok":false,"why":"elsewhere"}'), {
      ok: false,
      why: 'elsewhere',
    })
    const k = 'b'.repeat(64)
    assert.deepEqual(parseLine(PieceAnswer, JSON.stringify({ ok: false, why: 'elsewhere', to: k })), {
      ok: false,
      why: 'elsewhere',
      to: k,
    })
    assert.deepEqual(parseLine(PieceAnswer, JSON.stringify({ ok: true, have: 'AA==', peers: [k] })), {
      ok: true,
      have: 'AA==',
      peers: [k],
    })
    // Peer exchange is bounded and names keys only.
    assert.equal(
      parseLine(PieceAnswer, JSON.stringify({ ok: true, have: '', peers: Array(17).fill(k) })),
      null,
    )
    assert.equal(parseLine(PieceAnswer, JSON.stringify({ ok: true, have: '', peers: ['10.0.0.1'] })), null)
    assert.equal(parseLine(PieceAnswer, JSON.stringify({ ok: false, why: 'elsewhere', to: 'x' })), null)
  })
})
