import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  fromB64,
  kvFromWire,
  LeaseKeepAliveResponse,
  prefixRangeEnd,
  RangeResponse,
  StatusResponse,
  toB64,
} from '../../../../../agent/etcd/model/wire.js'

// Gateway answers as etcd 3.4.23 sends them (int64 as strings, zero values left out).

describe('gateway wire format', () => {
  it('computes the range end of a prefix', () => {
    assert.equal(fromB64(prefixRangeEnd('/homecloud/')), '/homecloud0')
    // Bytes, not characters: 'ÿ' is c3 bf in UTF-8, so the end is a c3 c0.
    assert.deepEqual(Buffer.from(prefixRangeEnd('aÿ'), 'base64'), Buffer.from([0x61, 0xc3, 0xc0]))
  })

  it('parses a status answer, learner flag defaulting to false', () => {
    const s = StatusResponse.parse({
      header: {
        cluster_id: '12585916177603692282',
        member_id: '18263072857035596408',
        revision: '1',
        raft_term: '2',
      },
      version: '3.4.23',
      dbSize: '20480',
      leader: '18263072857035596408',
      raftIndex: '5',
      raftTerm: '2',
      raftAppliedIndex: '5',
      dbSizeInUse: '16384',
    })
    assert.equal(s.leader, 18263072857035596408n)
    assert.equal(s.raftIndex, 5)
    assert.equal(s.isLearner, false)
    assert.equal(s.header.member_id, 18263072857035596408n)
  })

  it('parses ranges, empty and full', () => {
    assert.deepEqual(RangeResponse.parse({ header: { revision: '9' } }).kvs, [])
    const r = RangeResponse.parse({
      header: { revision: '4' },
      kvs: [
        {
          key: toB64('a'),
          create_revision: '3',
          mod_revision: '3',
          version: '1',
          value: toB64('é'),
          lease: '7',
        },
      ],
      count: '1',
    })
    assert.deepEqual(kvFromWire(r.kvs[0]!), {
      key: 'a',
      value: 'é',
      createRevision: 3,
      modRevision: 3,
      version: 1,
      lease: 7n,
    })
  })

  it('reads a keepalive for a lease that is gone as TTL 0', () => {
    const r = LeaseKeepAliveResponse.parse({ result: { header: { revision: '3' }, ID: '123' } })
    assert.equal(r.result.TTL, 0)
  })
})
