import assert from 'node:assert/strict'
import { createConnection, createServer, type Server } from 'node:net'
import { describe, test } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { pickBackend } from '../../../../agent/kube/lb/pick.js'
import { healthAfterProbes, LoadBalancer } from '../../../../agent/kube/lb/proxy.js'

describe('pickBackend', () => {
  const b = (id: string, healthy: boolean) => ({ id, healthy })
  test('healthy backends in turn', () => {
    const list = [b('a:1', true), b('b:1', false), b('c:1', true)]
    assert.equal(pickBackend(list, 0), 'a:1')
    assert.equal(pickBackend(list, 1), 'c:1')
    assert.equal(pickBackend(list, 2), 'a:1')
  })
  test('skips backends this connection already tried', () => {
    const list = [b('a:1', true), b('c:1', true)]
    assert.equal(pickBackend(list, 0, new Set(['a:1'])), 'c:1')
    assert.equal(pickBackend(list, 0, new Set(['a:1', 'c:1'])), null)
  })
  test('with none healthy, the unknown ones are still tried', () => {
    assert.equal(pickBackend([b('a:1', false), b('b:1', false)], 1), 'b:1')
    assert.equal(pickBackend([], 0), null)
  })
  test('a negative cursor stays in range', () => {
    assert.equal(pickBackend([b('a:1', true), b('b:1', true)], -1), 'b:1')
  })
})

// Real sockets on loopback: a dead backend first in line, a live echo server second.
describe('healthAfterProbes', () => {
  test('keeps only the probed backends and names those whose health changed', () => {
    const prev = new Map([
      ['a:1', true],
      ['b:1', false],
      ['gone:1', true],
    ])
    const r = healthAfterProbes(prev, [
      ['a:1', true],
      ['b:1', true],
      ['new:1', false],
    ])
    assert.deepEqual(
      [...r.health],
      [
        ['a:1', true],
        ['b:1', true],
        ['new:1', false],
      ],
    )
    assert.deepEqual(r.changed, [
      ['b:1', true],
      ['new:1', false],
    ])
  })
})

describe('LoadBalancer (real sockets)', () => {
  test('a refused connection goes on to the next backend; bytes pass both ways', async () => {
    const echo: Server = createServer((s) => s.pipe(s))
    await new Promise<void>((r) => echo.listen({ host: '127.0.0.1', port: 0 }, r))
    const echoPort = (echo.address() as { port: number }).port
    const dead = createServer()
    await new Promise<void>((r) => dead.listen({ host: '127.0.0.1', port: 0 }, r))
    const deadPort = (dead.address() as { port: number }).port
    await new Promise<void>((r) => dead.close(() => r()))
    const lb = new LoadBalancer(
      { host: '127.0.0.1', port: 46444, healthMs: 60_000 },
      {
        clock: systemClock(),
        log: silentLogger(),
        backends: () => [
          { host: '127.0.0.1', port: deadPort },
          { host: '127.0.0.1', port: echoPort },
        ],
        caPem: () => null,
      },
    )
    await lb.start()
    try {
      for (let i = 0; i < 4; i++) {
        const reply = await new Promise<string>((resolve, reject) => {
          const s = createConnection({ host: '127.0.0.1', port: 46444 }, () => s.end(`hello ${i}`))
          let got = ''
          s.on('data', (d) => {
            got += d
          })
          s.on('close', () => resolve(got))
          s.on('error', reject)
        })
        assert.equal(reply, `hello ${i}`)
      }
      assert.equal(lb.status().backends.find((x) => x.id.endsWith(`:${deadPort}`))?.healthy, false)
    } finally {
      await lb.stop()
      await new Promise<void>((r) => echo.close(() => r()))
    }
  })
})
