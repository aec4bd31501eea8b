import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Member } from '../../../../agent/mesh/membership.js'
import { holdsItsNames } from '../../../../agent/trust/names-held.js'

const member = (state: Member['state'], ramOnly: boolean) =>
  ({ state, signed: { body: { facts: ramOnly ? { ramOnly: true } : {} } } }) as unknown as Member

test('only a dead member whose state was in RAM (a netbooted machine) gives up its names and addresses', () => {
  assert.equal(holdsItsNames(member('dead', true)), false, 'its machine boots again as a new member')
  assert.equal(holdsItsNames(member('dead', false)), true, 'a disk node comes back with the same key')
  assert.equal(holdsItsNames(member('alive', true)), true)
  assert.equal(holdsItsNames(member('suspect', true)), true, 'suspect is not dead: maybe only slow')
})
