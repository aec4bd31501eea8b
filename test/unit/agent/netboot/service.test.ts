import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { dnsmasqAction } from '../../../../agent/netboot/service.js'

describe('netboot reconcile: dnsmasqAction', () => {
  it('starts dnsmasq with the first config, restarts it only for a new config or after it stopped', () => {
    assert.equal(dnsmasqAction({ wanted: 'a', written: '', dnsmasqStopped: true }), 'start')
    assert.equal(dnsmasqAction({ wanted: 'a', written: 'a', dnsmasqStopped: false }), 'none')
    assert.equal(dnsmasqAction({ wanted: 'b', written: 'a', dnsmasqStopped: false }), 'restart')
    assert.equal(dnsmasqAction({ wanted: 'a', written: 'a', dnsmasqStopped: true }), 'restart')
  })
})
