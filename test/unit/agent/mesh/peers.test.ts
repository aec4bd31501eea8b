import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Member } from '../../../../agent/mesh/membership.js'
import { peerView } from '../../../../agent/mesh/peers.js'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'

const member = (id: string, name: string, state: Member['state'], roles: string[] = ['worker']) =>
  ({ state, signed: { body: { id, name, publicKey: `${id}-key`, roles } } }) as unknown as Member

describe('PeerView', () => {
  it("finds members by id, by key, by id before name; lists alive voters; finds a peer's connection", () => {
    const members = [
      member('a', 'pi5-1', 'alive', ['worker', 'etcd-voter']),
      member('b', 'a', 'alive'),
      member('c', 'pi5-3', 'dead', ['etcd-voter']),
    ]
    const conn = { remoteKeyHex: 'b-key' } as PeerConn
    const v = peerView(
      'self',
      () => ({ id: 'self' }) as never,
      () => members,
      () => [conn],
    )
    assert.equal(v.byId('b')?.signed.body.name, 'a')
    assert.equal(v.byKey('c-key')?.signed.body.id, 'c')
    assert.equal(v.find('a')?.signed.body.id, 'a', 'an id wins over a name')
    assert.equal(v.find('pi5-3')?.signed.body.id, 'c')
    assert.equal(v.find('nobody'), undefined)
    assert.deepEqual(
      v.aliveVoters().map((m) => m.signed.body.id),
      ['a'],
    )
    assert.equal(v.connectionFor('b-key'), conn)
    assert.equal(v.connectionFor('a-key'), undefined)
  })
})
