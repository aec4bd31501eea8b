import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeFrame, FrameDecoder } from '../../../../agent/mesh/wire.js'

describe('length-prefixed frames', () => {
  it('reassemble frames split across chunks and split chunks holding several frames', () => {
    const a = encodeFrame({ t: 'suspect', incarnation: 1 })
    const b = encodeFrame({ t: 'dead', incarnation: 2 })
    const all = Buffer.concat([a, b])
    const d = new FrameDecoder(1024)
    const out = [
      ...d.push(all.subarray(0, 3)),
      ...d.push(all.subarray(3, a.length + 2)),
      ...d.push(all.subarray(a.length + 2)),
    ]
    assert.deepEqual(
      out.map((f) => (f.ok ? JSON.parse(f.payload.toString()) : f)),
      [
        { t: 'suspect', incarnation: 1 },
        { t: 'dead', incarnation: 2 },
      ],
    )
  })

  it('an oversized length poisons the stream: reported once, then nothing more is parsed', () => {
    const d = new FrameDecoder(100)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(10_000_000)
    assert.deepEqual(d.push(head), [{ ok: false, reason: 'oversized', declaredBytes: 10_000_000 }])
    assert.deepEqual(d.push(encodeFrame({ t: 'dead', incarnation: 1 })), [])
  })
})
