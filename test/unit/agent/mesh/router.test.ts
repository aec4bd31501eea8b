import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { MessageRouter } from '../../../../agent/mesh/router.js'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'
import { FrameDecoder } from '../../../../agent/mesh/wire.js'

const Ping = z.object({ t: z.literal('ping'), n: z.number().int() })
type Ping = z.infer<typeof Ping>

function conn(): PeerConn & { sent: Buffer[] } {
  const sent: Buffer[] = []
  return {
    sent,
    remoteKeyHex: 'ab'.repeat(32),
    handshakeHash: Buffer.alloc(32),
    remoteHost: '127.0.0.1',
    write: (b: Buffer) => void sent.push(b),
    destroy: () => {},
    stats: () => ({ initiator: false, bytesIn: 0, bytesOut: 0, openMs: 0 }),
  }
}

describe('mesh router', () => {
  it('parses a frame with the schema registered for its type and hands it to that route', () => {
    const router = new MessageRouter(() => [])
    const got: Ping[] = []
    router.route<Ping>('ping', Ping, (_c, m) => got.push(m), { from: 'members' })
    const p = router.parse(Buffer.from(JSON.stringify({ t: 'ping', n: 3 })))
    assert.equal(p.ok, true)
    if (!p.ok) return
    assert.equal(p.route.from, 'members')
    p.route.handle(conn(), p.msg)
    assert.deepEqual(got, [{ t: 'ping', n: 3 }])
  })

  it('names what is wrong: not JSON, no type, an unknown type, the broken field', () => {
    const router = new MessageRouter(() => [])
    router.route<Ping>('ping', Ping, () => {})
    const detail = (s: string) => {
      const p = router.parse(Buffer.from(s))
      return p.ok ? 'ok' : p.detail
    }
    assert.equal(detail('{nope'), 'not JSON')
    assert.equal(detail('null'), 't: no message type')
    assert.equal(detail('{"n":1}'), 't: no message type')
    assert.match(detail('{"t":"pong"}'), /^t: unknown message type pong$/)
    assert.match(detail('{"t":"ping","n":1.5}'), /^n: /)
  })

  it('refuses to register one type twice (two protocols may not share a message)', () => {
    const router = new MessageRouter(() => [])
    router.route<Ping>('ping', Ping, () => {})
    assert.throws(() => router.route<Ping>('ping', Ping, () => {}), /registered twice/)
  })

  it('tells every protocol of a new connection and of uncertified records; broadcasts to every connection', () => {
    const a = conn()
    const b = conn()
    const router = new MessageRouter(() => [a, b])
    const seen: string[] = []
    router.onConnection(() => seen.push('one'))
    router.onConnection(() => seen.push('two'))
    router.connected(a)
    assert.deepEqual(seen, ['one', 'two'])
    router.broadcast({ t: 'ping', n: 1 })
    for (const c of [a, b]) {
      const frames = new FrameDecoder().push(Buffer.concat(c.sent))
      assert.equal(frames.length, 1)
      assert.deepEqual(frames[0]?.ok && JSON.parse(frames[0].payload.toString()), { t: 'ping', n: 1 })
    }
  })
})
