import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  desiredRoutes,
  interfaceOf,
  iptablesRules,
  parseRoutes,
  routeCommands,
} from '../../../../../agent/kube/podnet/host-plan.js'
import type { PodNetPlan } from '../../../../../agent/kube/podnet/plan.js'

const plan = (mode: 'wireguard' | 'plain'): PodNetPlan => ({
  mode,
  peers: [{ name: 'b', podCidr: '10.244.3.0/24', address: '10.77.1.3' }],
  skipped: [],
})

describe('pod network host plan', () => {
  it('wireguard routes name the tunnel; plain routes go via the peer; the Service range its LAN device', () => {
    assert.deepEqual(desiredRoutes(plan('wireguard'), 'hcwg0'), [{ cidr: '10.244.3.0/24', dev: 'hcwg0' }])
    assert.deepEqual(desiredRoutes(plan('plain'), 'hcwg0', { cidr: '10.96.0.0/16', dev: 'eth0' }), [
      { cidr: '10.244.3.0/24', via: '10.77.1.3' },
      { cidr: '10.96.0.0/16', dev: 'eth0' },
    ])
  })

  it('adds the missing, replaces the changed, deletes only our own unwanted routes', () => {
    const have = parseRoutes(
      JSON.stringify([
        { dst: '10.244.3.0/24', gateway: '10.77.1.9', dev: 'eth0' },
        { dst: '10.244.9.0/24', dev: 'hcwg0' },
        { dst: '10.96.0.0/16', dev: 'eth1' },
      ]),
    )
    assert.deepEqual(
      routeCommands(have, [
        { cidr: '10.244.3.0/24', via: '10.77.1.3' },
        { cidr: '10.244.4.0/24', dev: 'hcwg0' },
        { cidr: '10.96.0.0/16', dev: 'eth0' },
      ]),
      [
        ['route', 'replace', '10.244.3.0/24', 'via', '10.77.1.3', 'proto', '77'],
        ['route', 'replace', '10.244.4.0/24', 'dev', 'hcwg0', 'proto', '77'],
        ['route', 'replace', '10.96.0.0/16', 'dev', 'eth0', 'proto', '77'],
        ['route', 'del', '10.244.9.0/24', 'proto', '77'],
      ],
    )
    const same = [{ cidr: '10.244.4.0/24', dev: 'hcwg0' }]
    assert.deepEqual(routeCommands(same, same), [])
    assert.deepEqual(parseRoutes(''), [])
  })

  it('finds the interface that holds the node address', () => {
    const json = JSON.stringify([
      { ifname: 'lo', addr_info: [{ local: '127.0.0.1' }] },
      { ifname: 'eth0', addr_info: [{ local: '10.77.1.5' }] },
    ])
    assert.equal(interfaceOf(json, '10.77.1.5'), 'eth0')
    assert.equal(interfaceOf(json, '10.77.1.6'), null)
  })

  it('masquerades only what leaves the pod network, never multicast', () => {
    const rules = iptablesRules('10.244.0.0/16')
    assert.match(rules, /-s 10\.244\.0\.0\/16 -d 10\.244\.0\.0\/16 -j RETURN/)
    assert.match(rules, /-s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4 -j MASQUERADE/)
    assert.equal(rules.match(/COMMIT/g)?.length, 2)
  })
})
