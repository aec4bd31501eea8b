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
})
