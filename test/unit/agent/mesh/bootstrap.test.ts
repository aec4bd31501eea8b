import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildBootstrapList, HostPortString } from '../../../../agent/mesh/bootstrap.js'

describe('bootstrap list', () => {
  const self = { host: '10.77.1.2', port: 49737 }
  const a = { host: '10.77.1.3', port: 49737 }
  const b = { host: '10.77.1.4', port: 49737 }

  it('is our own peers only: configured first, then discovered, then remembered; never ourselves, no repeats', () => {
    const list = buildBootstrapList({ configured: [a, self], persisted: [b, a], discovered: [b] }, self)
    assert.deepEqual(list, [a, b])
  })

  it('is an empty array, not undefined, when nothing is known (hyperdht would fall back to public nodes)', () => {
    const list = buildBootstrapList({ configured: [], persisted: [], discovered: [] }, self)
    assert.ok(Array.isArray(list))
    assert.equal(list.length, 0)
  })

  it('is bounded', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ host: `10.77.2.${i + 1}`, port: 49737 }))
    assert.equal(buildBootstrapList({ configured: many, persisted: [], discovered: [] }, self, 16).length, 16)
  })

  it('parses IP:PORT and names what is wrong', () => {
    assert.deepEqual(HostPortString.parse('127.0.1.2:49737'), { host: '127.0.1.2', port: 49737 })
    for (const bad of ['localhost:1', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'node.example:49737']) {
      assert.equal(HostPortString.safeParse(bad).success, false, bad)
    }
  })
})
