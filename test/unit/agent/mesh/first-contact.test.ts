import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { FirstContact } from '../../../../agent/mesh/first-contact.js'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'

describe('first contact (no member linked yet)', () => {
  it('dials made before the transport was up are not attempts in flight: the first dial after it goes out at once', () => {
    const clock = manualClock()
    const dialled: string[] = []
    let up = false
    const conns: PeerConn[] = []
    const first = new FirstContact('self', clock, {
      connections: () => conns,
      dial: (hp) => {
        if (up) dialled.push(hp.key)
      },
      close: () => {},
      lookup: async () => [],
    })
    for (const k of ['a', 'b', 'c'])
      first.learn({ host: `127.0.1.${k.charCodeAt(0) - 96}`, port: 49737, key: k })
    first.dial() // the mesh starts before the transport: these go nowhere
    up = true
    first.dial()
    assert.deepEqual(dialled, [], 'held back as if in flight (the old behaviour, ~8 s at every start)')
    first.transportUp()
    first.dial()
    assert.deepEqual(dialled.sort(), ['a', 'b', 'c'])
  })

  it('peers asked for by address (a joiner’s signer) are kept by id, the newest 16', () => {
    const first = new FirstContact('self', manualClock(), {
      connections: () => [],
      dial: () => {},
      close: () => {},
      lookup: async () => [],
    })
    for (let i = 0; i < 20; i++) first.hold(`id${i}`, { host: `10.77.0.${i}`, port: 49737, key: `k${i}` })
    assert.equal(first.addressOf('id0'), undefined, 'the oldest went')
    assert.deepEqual(first.addressOf('id19'), { host: '10.77.0.19', port: 49737, key: 'k19' })
    first.hold('id4', { host: '10.77.1.4', port: 1, key: 'k4' })
    assert.equal(first.addressOf('id4')?.host, '10.77.1.4', 'a newer address replaces the old')
  })
})
