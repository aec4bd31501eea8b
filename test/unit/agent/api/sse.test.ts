import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type AddressInfo, connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { ClusterView } from '../../../../agent/api/cluster-schema.js'
import { buildApiServer } from '../../../../agent/api/server.js'
import { eventKey, eventsAfter, viewFingerprint } from '../../../../agent/api/sse.js'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { clusterView, NOW } from './fixtures.js'
import { openSse, type SseStream } from './sse-client.js'

describe('live updates: pure parts', () => {
  test('the fingerprint ignores heartbeats but not state changes', () => {
    const a = clusterView()
    const b = structuredClone(a)
    for (const m of b.members) m.lastSeenMs += 5000
    b.events.push({ atMs: NOW, kind: 'x', message: 'y' })
    assert.equal(viewFingerprint(a), viewFingerprint(b))
    b.members[1]!.state = 'suspect'
    assert.notEqual(viewFingerprint(a), viewFingerprint(b))
  })

  test('events after the last one sent', () => {
    const ev = (n: number) => ({ atMs: n, kind: 'k', message: `m${n}` })
    const list = [ev(1), ev(2), ev(3)]
    assert.deepEqual(eventsAfter(list, null), list)
    assert.deepEqual(eventsAfter(list, eventKey(ev(2))), [ev(3)])
    assert.deepEqual(eventsAfter(list, eventKey(ev(3))), [])
    assert.deepEqual(eventsAfter(list, eventKey(ev(0))), list, 'scrolled out of the window: all are new')
  })
})

describe('GET /api/v1/events', () => {
  const clock = manualClock(NOW)
  const view: ClusterView = clusterView()
  const counters = new Counters()
  const app = buildApiServer({
    log: silentLogger(),
    counters,
    clock,
    clusterView: () => structuredClone(view),
    meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
    ready: () => true,
    sseLimits: { clientsMax: 2, heartbeatMs: 15_000, pollMs: 1000 },
  })
  let url = ''
  const open: SseStream[] = []
  /** A viewer; while the server has not yet noticed streams this test closed, it answers 503: retry. */
  const connect = async () => {
    for (let i = 0; ; i++) {
      const s = await openSse(url)
      if (s.status !== 503 || i >= 100) {
        open.push(s)
        return s
      }
      s.close()
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  before(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1/events`
  })
  after(async () => {
    for (const s of open) s.close()
    await app.close()
  })

  test('sends the whole view on connect, then changes, new events and heartbeats', async () => {
    const s = await connect()
    assert.equal(s.status, 200)
    assert.equal(s.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.match(s.headers.get('content-security-policy') ?? '', /script-src 'self'/)
    assert.equal(s.headers.get('x-frame-options'), 'DENY')
    const first = await s.next()
    assert.equal(first.event, 'cluster')
    assert.deepEqual(JSON.parse(first.data), view)

    // Heartbeats alone change nothing a viewer sees: no push.
    for (const m of view.members) m.lastSeenMs += 1000
    clock.advance(1000)
    view.members[2]!.state = 'dead'
    const dead = { atMs: NOW + 2000, kind: 'dead', id: view.members[2]!.id, message: 'pi4-3 marked dead' }
    view.events.push(dead)
    clock.advance(1000)
    const ev = await s.next()
    assert.deepEqual([ev.event, JSON.parse(ev.data)], ['event', dead])
    const changed = await s.next()
    assert.equal(changed.event, 'cluster')
    assert.equal((JSON.parse(changed.data) as ClusterView).members[2]!.state, 'dead')

    clock.advance(15_000)
    assert.deepEqual(await s.next(), { event: ':', data: ': heartbeat' })
    s.close()
  })

  test('bounded: viewers beyond the limit get 503; a closed stream frees its place', async () => {
    const a = await connect()
    const b = await connect()
    await a.next()
    await b.next()
    const res = await fetch(url)
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '10')
    assert.equal(counters.get('homecloud_http_rejected_total', { reason: 'too-many-event-streams' }), 1)
    a.close()
    // The server notices the closed socket asynchronously.
    for (let i = 0; ; i++) {
      const c = await openSse(url)
      if (c.status === 200) {
        open.push(c)
        assert.equal((await c.next()).event, 'cluster')
        break
      }
      c.close()
      assert.ok(i < 100, 'place never freed')
      await new Promise((r) => setTimeout(r, 20))
    }
    b.close()
  })

  test('a new viewer does not get events it already has in its view', async () => {
    for (const s of open) s.close()
    const s = await connect()
    view.events.push({ atMs: NOW + 5000, kind: 'joined', message: 'x joined' })
    const late = await connect().catch(() => null)
    assert.ok(late)
    assert.equal((await late.next()).event, 'cluster')
    // s is told about the event; late already has it in its view.
    assert.equal((await s.next()).event, 'cluster')
    assert.equal((await s.next()).event, 'event')
    clock.advance(1000)
    view.members[1]!.state = 'suspect'
    clock.advance(1000)
    assert.equal((await late.next()).event, 'cluster')
  })
})

test('closing the server ends open streams and spare sockets instead of waiting for them', async () => {
  const app = buildApiServer({
    log: silentLogger(),
    counters: new Counters(),
    clusterView: () => clusterView(),
    meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
    ready: () => true,
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const s = await openSse(`http://127.0.0.1:${port}/api/v1/events`)
  assert.equal((await s.next()).event, 'cluster')
  // Browsers open spare sockets ahead of need; Node's idle reaping does not count them.
  const spare = connect(port, '127.0.0.1')
  await once(spare, 'connect')
  try {
    const closed = await Promise.race([
      app.close().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 2000).unref()),
    ])
    assert.ok(closed, 'close() still waiting after 2 s')
    await assert.rejects(s.next(2000), /stream ended/)
  } finally {
    spare.destroy()
    s.close()
  }
})
