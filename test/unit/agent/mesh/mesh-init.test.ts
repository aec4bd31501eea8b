import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DropLog } from '../../../../agent/mesh/mesh-init.js'

describe('mesh drop log', () => {
  test('one line per reason per interval; the quiet ones are counted into the next line', () => {
    const log = new DropLog(5000)
    assert.equal(log.due('oversized', 0), 0)
    assert.equal(log.due('oversized', 10), null)
    assert.equal(log.due('oversized', 4999), null)
    assert.equal(log.due('bad-signature', 20), 0, 'another reason has its own interval')
    assert.equal(log.due('oversized', 5000), 2)
    assert.equal(log.due('oversized', 5001), null)
    assert.equal(log.due('oversized', 10_000), 1)
  })
})
