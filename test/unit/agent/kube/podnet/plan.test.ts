import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateWireguardKeys } from '../../../../../agent/kube/podnet/keys.js'
import {
  type ObservedNode,
  planPodNetwork,
  podNetworkAnnotation,
  wireguardKeyAnnotation,
} from '../../../../../agent/kube/podnet/plan.js'

const key = () => generateWireguardKeys().publicKey.toString('base64')
const wg = (name: string, last: number, k = key()): ObservedNode => ({
  name,
  internalIp: `10.77.1.${last}`,
  podCidr: `10.244.${last}.0/24`,
  annotations: { [podNetworkAnnotation]: 'wireguard', [wireguardKeyAnnotation]: k },
})
const self = { name: 'a', podCidr: '10.244.2.0/24' }
const plan = (nodes: ObservedNode[], mode: 'wireguard' | 'plain' = 'wireguard') =>
  planPodNetwork({ self, mode, clusterCidr: '10.244.0.0/16', nodes })

describe('pod network plan', () => {
  it('peers with every other node that publishes its key, in name order; never itself', () => {
    const p = plan([wg('c', 4), wg('a', 2), wg('b', 3)])
    assert.deepEqual(
      p.peers.map((x) => [x.name, x.podCidr, x.address]),
      [
        ['b', '10.244.3.0/24', '10.77.1.3'],
        ['c', '10.244.4.0/24', '10.77.1.4'],
      ],
    )
    assert.equal(p.peers[0]!.publicKey!.length, 32)
    assert.deepEqual(p.skipped, [])
  })

  it('skips, with a reason, nodes that cannot be peers', () => {
    const kwok: ObservedNode = {
      name: 'kwok',
      internalIp: '10.77.1.9',
      podCidr: '10.244.9.0/24',
      annotations: {},
    }
    const noRange = { ...wg('norange', 5), podCidr: undefined }
    const outside = { ...wg('outside', 6), podCidr: '10.99.6.0/24' }
    const hostBits = { ...wg('hostbits', 7), podCidr: '10.244.7.1/24' }
    const clash = { ...wg('zclash', 8), podCidr: '10.244.2.0/25' }
    const badKey = wg('badkey', 10, 'not-a-key')
    const plain = { ...wg('plain', 11), annotations: { [podNetworkAnnotation]: 'plain' } }
    const noIp = { ...wg('noip', 12), internalIp: 'x' }
    const p = plan([kwok, noRange, outside, hostBits, clash, badKey, plain, noIp])
    assert.deepEqual(p.peers, [])
    const why = Object.fromEntries(p.skipped.map((s) => [s.name, s.reason]))
    assert.match(why.kwok!, /takes no part/)
    assert.match(why.norange!, /no pod range/)
    assert.match(why.outside!, /outside 10\.244\.0\.0\/16/)
    assert.match(why.hostbits!, /not a network/)
    assert.match(why.zclash!, /overlaps a's/)
    assert.match(why.badkey!, /no valid WireGuard public key/)
    assert.match(why.plain!, /is plain, this node's is wireguard/)
    assert.match(why.noip!, /no InternalIP/)
  })

  it('the first of two nodes claiming one range wins, by name', () => {
    const p = plan([{ ...wg('y', 5) }, { ...wg('x', 6), podCidr: '10.244.5.0/24' }])
    assert.deepEqual(
      p.peers.map((x) => x.name),
      ['x'],
    )
    assert.match(p.skipped[0]!.reason, /overlaps x's/)
  })

  it('plain mode routes without keys', () => {
    const n = { ...wg('b', 3), annotations: { [podNetworkAnnotation]: 'plain' } }
    const p = plan([n], 'plain')
    assert.equal(p.peers.length, 1)
    assert.equal(p.peers[0]!.publicKey, undefined)
  })
})
