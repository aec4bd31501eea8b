import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { createCa } from '../../../../agent/pki/ca.js'
import {
  checkSlotOrder,
  orderBytesMax,
  type SlotOrderBody,
  signSlotOrder,
} from '../../../../agent/slots/order.js'

const clock = systemClock()
const ca = createCa({ clusterId: 'c1', clusterName: 'test', clock })
const other = createCa({ clusterId: 'c1', clusterName: 'evil', clock })
const ctx = { caPem: ca.certPem, clusterId: 'c1', nodeId: 'n1', lastSeq: 4 }
const body = (o: Partial<SlotOrderBody> = {}): SlotOrderBody => ({
  v: 1,
  clusterId: 'c1',
  version: 5,
  node: 'n1',
  action: 'install',
  release: { id: 'a'.repeat(64), version: '2' },
  issuedAtMs: 1,
  ...o,
})

describe('slot orders', () => {
  it('a CA-signed order for this node, newer than the last taken, is taken; the same again is a repeat', () => {
    const text = signSlotOrder(body(), ca.keyPem)
    assert.deepEqual(checkSlotOrder(text, ctx), { ok: true, body: body(), repeat: false })
    const again = checkSlotOrder(text, { ...ctx, lastSeq: 5 })
    assert.equal(again.ok && again.repeat, true)
  })

  it('refuses another CA, a tampered body, another cluster, another node, a replay and oversized text', () => {
    const err = (text: string, c = ctx) => {
      const r = checkSlotOrder(text, c)
      assert.equal(r.ok, false)
      return r as { status: number; error: string }
    }
    assert.equal(err(signSlotOrder(body(), other.keyPem)).status, 403)
    const tampered = JSON.parse(signSlotOrder(body(), ca.keyPem))
    tampered.body.action = 'commit'
    assert.equal(err(JSON.stringify(tampered)).status, 403)
    assert.equal(err(signSlotOrder(body({ clusterId: 'c2' }), ca.keyPem)).status, 403)
    assert.match(err(signSlotOrder(body({ node: 'n2' }), ca.keyPem)).error, /for n2, not this node/)
    const replay = err(signSlotOrder(body({ version: 3 }), ca.keyPem))
    assert.equal(replay.status, 409)
    assert.match(replay.error, /a replay/)
    assert.equal(err('x'.repeat(orderBytesMax + 1)).status, 400)
    assert.equal(err('{not json').status, 403)
  })

  it('an order that does not fit the schema is not signed', () => {
    assert.throws(() => signSlotOrder(body({ tries: 99 }), ca.keyPem))
    assert.throws(() => signSlotOrder({ ...body(), extra: 1 } as SlotOrderBody, ca.keyPem))
  })
})
