import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseEtcdLogLine } from '../../../../agent/etcd/log-lines.js'

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
