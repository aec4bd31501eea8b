import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RecordVerifier } from '../../../../agent/mesh/record.js'
import { checkUpdates } from '../../../../agent/mesh/swim-intake.js'
import type { SwimUpdate } from '../../../../agent/mesh/swim-wire.js'
import { CLUSTER, newIdentity, signed } from '../../../support/records.js'

describe('SWIM update intake', () => {
  const peer = newIdentity()
  const good = signed(peer)
  const base = { clusterId: CLUSTER, verifier: new RecordVerifier() }
  const alive = (record = good): SwimUpdate => ({ kind: 'alive', record })

  it('drops records of another cluster, with a bad signature, or refused by the certificate gate', () => {
    const tampered = { ...signed(peer, { heartbeat: 9 }), sig: good.sig }
    const { accepted, dropped } = checkUpdates(
      [alive(signed(peer, { cluster: 'ffffffffffffffff' })), alive(tampered), alive()],
      { ...base, classify: () => 'news', admits: () => 'uncertified' },
    )
    assert.deepEqual(accepted, [])
    assert.deepEqual(
      dropped.map((d) => d.reason),
      ['other-cluster', 'bad-signature', 'uncertified'],
    )
  })

  it('counts old news as stale without checking its signature; claims go to the machine', () => {
    let verified = 0
    const verifier = { verify: () => (verified++, true) } as unknown as RecordVerifier
    const claim: SwimUpdate = { kind: 'suspect', id: peer.id, incarnation: 1, from: peer.id }
    const { accepted, dropped } = checkUpdates([alive(), claim], {
      ...base,
      verifier,
      classify: () => 'stale',
    })
    assert.deepEqual(accepted, [claim])
    assert.deepEqual(
      dropped.map((d) => d.reason),
      ['stale'],
    )
    assert.equal(verified, 0)
  })

  it('names a record at an incarnation its node was declared dead at, once its signature holds', () => {
    const { dropped } = checkUpdates([alive()], { ...base, classify: () => 'dead-incarnation' })
    assert.deepEqual(
      dropped.map((d) => d.reason),
      ['dead-incarnation'],
    )
  })
})
