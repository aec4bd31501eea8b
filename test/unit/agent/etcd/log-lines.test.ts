import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LineSplitter, LogBudget, parseEtcdLogLine, RecentLines } from '../../../../agent/etcd/log-lines.js'

describe('LineSplitter', () => {
  it('reassembles lines across chunks, including split UTF-8', () => {
    const s = new LineSplitter()
    const euro = Buffer.from('€')
    assert.deepEqual(s.push(Buffer.concat([Buffer.from('a\nb'), euro.subarray(0, 1)])), ['a'])
    assert.deepEqual(s.push(Buffer.concat([euro.subarray(1), Buffer.from('c\r\n\nd')])), ['b€c'])
    assert.deepEqual(s.flush(), ['d'])
    assert.deepEqual(s.flush(), [])
  })

  it('cuts an endless line and drops the rest of it', () => {
    const s = new LineSplitter(10)
    const out = [...s.push('x'.repeat(25)), ...s.push('y'.repeat(25)), ...s.push('\nnext\n')]
    assert.deepEqual(out, [`${'x'.repeat(10)}…[line cut]`, 'next'])
  })
})

describe('parseEtcdLogLine', () => {
  it('maps zap JSON to our levels and keeps the fields', () => {
    const l = parseEtcdLogLine(
      '{"level":"warn","ts":"2026-01-01T00:00:00Z","caller":"x.go:1","msg":"rejected connection","remote-addr":"127.0.0.1:5"}',
    )
    assert.deepEqual(l, {
      level: 'warn',
      msg: 'rejected connection',
      fields: { caller: 'x.go:1', 'remote-addr': '127.0.0.1:5' },
    })
    assert.equal(parseEtcdLogLine('{"level":"panic","msg":"boom"}').level, 'fatal')
    assert.equal(parseEtcdLogLine('{"level":"dpanic","msg":"boom"}').level, 'error')
  })

  it('keeps a per-request gateway warning at debug', () => {
    const l = parseEtcdLogLine('{"level":"warn","msg":"ignoring common name in gRPC-gateway proxy request"}')
    assert.equal(l.level, 'debug')
  })

  it('passes non-JSON lines through with a guessed level', () => {
    assert.deepEqual(parseEtcdLogLine('panic: runtime error'), {
      level: 'fatal',
      msg: 'panic: runtime error',
      fields: {},
    })
    assert.equal(parseEtcdLogLine('flag provided but not defined: -x').level, 'info')
    assert.equal(parseEtcdLogLine('{"broken').msg, '{"broken')
  })
})

describe('LogBudget', () => {
  it('allows a burst, then the refill rate, and counts what it drops', () => {
    const b = new LogBudget(10, 3)
    assert.deepEqual(
      [0, 0, 0, 0, 0].map((t) => b.allow(t)),
      [true, true, true, false, false],
    )
    assert.equal(b.takeDropped(), 2)
    assert.equal(b.takeDropped(), 0)
    assert.equal(b.allow(100), true, '100 ms at 10/s refills one')
    assert.equal(b.allow(100), false)
    assert.equal(b.allow(10_000), true)
  })
})

describe('RecentLines', () => {
  it('keeps only the last lines', () => {
    const r = new RecentLines(2)
    for (const l of ['a', 'b', 'c']) r.push(l)
    assert.deepEqual(r.all(), ['b', 'c'])
  })
})
