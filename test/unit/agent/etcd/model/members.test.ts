import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../../agent/core/errors.js'
import { idHex, parseIdHex } from '../../../../../agent/etcd/model/ids.js'
import { parseJsonKeepingBigInts, quoteLongIntegers } from '../../../../../agent/etcd/model/json-bigint.js'
import {
  findMemberByPeerUrl,
  parseMemberList,
  parseMemberListJson,
} from '../../../../../agent/etcd/model/members.js'

// Real output of etcd 3.4.23 (etcdctl member list -w json, and the gateway's answer).
const etcdctlJson =
  '{"header":{"cluster_id":236780201601522241,"member_id":14362975836686699847,"raft_term":2},' +
  '"members":[{"ID":4542722483511505427,"peerURLs":["https://127.0.209.2:2380"],"isLearner":true},' +
  '{"ID":14362975836686699847,"name":"n1","peerURLs":["https://127.0.209.1:2380"],"clientURLs":["https://127.0.209.1:2379"]}]}'

const gatewayJson = {
  header: { cluster_id: '236780201601522241', member_id: '14362975836686699847', raft_term: '2' },
  members: [
    { ID: '4542722483511505427', peerURLs: ['https://127.0.209.2:2380'], isLearner: true },
    {
      ID: '14362975836686699847',
      name: 'n1',
      peerURLs: ['https://127.0.209.1:2380'],
      clientURLs: ['https://127.0.209.1:2379'],
    },
  ],
}

describe('member ids beyond 2^53', () => {
  it('JSON.parse would round them: the reason for the parser', () => {
    const rounded = (JSON.parse(etcdctlJson) as { members: { ID: number }[] }).members[1]!.ID
    assert.notEqual(BigInt(rounded), 14362975836686699847n)
  })

  it('parses etcdctl -w json exactly', () => {
    const list = parseMemberListJson(etcdctlJson)
    assert.equal(list.clusterId, 236780201601522241n)
    assert.deepEqual(
      list.members.map((m) => m.id),
      [4542722483511505427n, 14362975836686699847n],
    )
    assert.equal(idHex(14362975836686699847n), 'c7538a6cd73acd47')
    assert.equal(parseIdHex('c7538a6cd73acd47'), 14362975836686699847n)
    assert.equal(parseIdHex('not-hex'), undefined)
  })

  it('gives the same list from the gateway (decimal strings)', () => {
    assert.deepEqual(parseMemberList(gatewayJson), parseMemberListJson(etcdctlJson))
  })

  it('fills what proto3 leaves out: a learner not started has no name or client URLs', () => {
    const learner = parseMemberList(gatewayJson).members[0]!
    assert.deepEqual(learner, {
      id: 4542722483511505427n,
      name: '',
      peerUrls: ['https://127.0.209.2:2380'],
      clientUrls: [],
      isLearner: true,
    })
    assert.equal(parseMemberList(gatewayJson).members[1]!.isLearner, false)
    assert.deepEqual(parseMemberList({ header: {} }).members, [])
  })

  it('refuses ids that already lost precision, or are not ids', () => {
    assert.throws(
      () => parseMemberList({ members: [{ ID: Number('14362975836686699847') }] }),
      HomecloudError,
    )
    assert.throws(() => parseMemberList({ members: [{ ID: '-1' }] }), HomecloudError)
    assert.throws(() => parseMemberList({ members: [{ ID: '99999999999999999999' }] }), /2\^64/)
    assert.throws(() => parseMemberListJson('not json'), HomecloudError)
  })

  it('quotes only long integers outside strings', () => {
    assert.equal(
      quoteLongIntegers(
        '{"a":"12345678901234567","b":12345678901234567,"c":-12345678901234567,"d":1.5e3,"e":42}',
      ),
      '{"a":"12345678901234567","b":"12345678901234567","c":"-12345678901234567","d":1.5e3,"e":42}',
    )
    assert.deepEqual(parseJsonKeepingBigInts('{"s":"x\\"1234567890123456789"}'), {
      s: 'x"1234567890123456789',
    })
    assert.deepEqual(parseJsonKeepingBigInts('[123456789012345]'), [123456789012345])
  })
})

describe('findMemberByPeerUrl', () => {
  it('finds an unstarted learner (no name yet) by the peer URL it was added with', () => {
    const { members } = parseMemberList(gatewayJson)
    assert.equal(findMemberByPeerUrl(members, 'https://127.0.209.2:2380')?.id, 4542722483511505427n)
    assert.equal(findMemberByPeerUrl(members, 'https://127.0.209.9:2380'), undefined)
  })
})
