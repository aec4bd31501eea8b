import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AgentConfig } from '../../../../agent/config/schema.js'
import { adopts, effectiveAdoption } from '../../../../agent/netboot/config.js'

test('netboot is off by default, proxy mode, adoption follows the join policy', () => {
  const c = AgentConfig.parse({})
  assert.equal(c.netboot.enabled, false)
  assert.equal(c.netboot.mode, 'proxy')
  assert.equal(effectiveAdoption(c.netboot, 'auto'), 'any')
  assert.equal(effectiveAdoption(c.netboot, 'approve'), 'known')
  assert.equal(effectiveAdoption({ adoption: 'any' }, 'approve'), 'any')
  assert.ok(adopts('known', ['52:54:00:00:00:01'], '52:54:00:00:00:01'))
  assert.ok(!adopts('known', [], '52:54:00:00:00:01'))
})

test('bad netboot config names the field', () => {
  const cases: [unknown, RegExp][] = [
    [{ imageDir: '' }, /imageDir/],
    [{ mode: 'dhcp' }, /dhcpRange/],
    [{ mode: 'dhcp', dhcpRange: { start: '10.0.0.1', end: 'x' } }, /dhcpRange/],
    [{ knownMacs: ['zz'] }, /knownMacs/],
    [{ adoption: 'everyone' }, /adoption/],
    [{ interface: 'eth0 extra' }, /interface/],
    [{ raspberryPi: { serials: ['../x'] } }, /raspberryPi/],
    [{ surprise: 1 }, /surprise|Unrecognized/],
  ]
  for (const [netboot, field] of cases) {
    const r = AgentConfig.safeParse({ netboot })
    assert.equal(r.success, false, JSON.stringify(netboot))
    assert.match(JSON.stringify(r.error?.issues), field)
  }
  // No image directory: the node serves the cluster's current release from its store.
  assert.equal(AgentConfig.parse({ netboot: { enabled: true } }).netboot.imageDir, undefined)
  const known = AgentConfig.parse({ netboot: { knownMacs: ['52:54:00:AA:BB:CC'] } })
  assert.deepEqual(known.netboot.knownMacs, ['52:54:00:aa:bb:cc'])
})
