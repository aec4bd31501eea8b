import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PlannedPeer } from '../../../../../agent/kube/podnet/plan.js'
import { deviceUpdate, parseDeviceState } from '../../../../../agent/kube/podnet/uapi.js'

const k = (b: number) => Buffer.alloc(32, b)
const peer = (b: number, last: number): PlannedPeer => ({
  name: `n${b}`,
  podCidr: `10.244.${last}.0/24`,
  address: `10.77.1.${last}`,
  publicKey: k(b),
})
const desired = (peers: PlannedPeer[]) => ({ privateKey: k(1), listenPort: 51820, peers, keepaliveSec: 25 })

describe('wireguard-go UAPI', () => {
  it('parses a get answer: device, then one block per peer', () => {
    const s = parseDeviceState(
      [
        `private_key=${k(1).toString('hex')}`,
        'listen_port=51820',
        `public_key=${k(2).toString('hex')}`,
        'endpoint=10.77.1.3:51820',
        'last_handshake_time_sec=1700000000',
        'rx_bytes=10',
        'tx_bytes=20',
        'allowed_ip=10.244.3.0/24',
        'errno=0',
        '',
        '',
      ].join('\n'),
    )
    assert.equal(s.listenPort, 51820)
    assert.deepEqual(s.peers, [
      {
        publicKeyHex: k(2).toString('hex'),
        endpoint: '10.77.1.3:51820',
        allowedIps: ['10.244.3.0/24'],
        lastHandshakeSec: 1700000000,
        rxBytes: 10,
        txBytes: 20,
      },
    ])
    assert.throws(() => parseDeviceState('errno=22\n\n'), /errno=22/)
  })

  it('an empty device gets its key, port and every peer', () => {
    const msg = deviceUpdate({ peers: [] }, desired([peer(2, 3)]), 51820)
    assert.equal(
      msg,
      [
        'set=1',
        `private_key=${k(1).toString('hex')}`,
        'listen_port=51820',
        `public_key=${k(2).toString('hex')}`,
        'endpoint=10.77.1.3:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=10.244.3.0/24',
        '',
        '',
      ].join('\n'),
    )
  })

  it('a device that already matches needs nothing; a gone peer is removed, a moved one updated', () => {
    const have = parseDeviceState(
      [
        `private_key=${k(1).toString('hex')}`,
        'listen_port=51820',
        `public_key=${k(2).toString('hex')}`,
        'endpoint=10.77.1.3:51820',
        'allowed_ip=10.244.3.0/24',
        `public_key=${k(3).toString('hex')}`,
        'endpoint=10.77.1.4:51820',
        'allowed_ip=10.244.4.0/24',
        'errno=0',
      ].join('\n'),
    )
    assert.equal(deviceUpdate(have, desired([peer(2, 3), peer(3, 4)]), 51820), null)
    const moved = { ...peer(2, 3), address: '10.77.1.30' }
    const msg = deviceUpdate(have, desired([moved]), 51820)!
    assert.match(msg, new RegExp(`public_key=${k(3).toString('hex')}\nremove=true`))
    assert.match(msg, /endpoint=10\.77\.1\.30:51820/)
    assert.doesNotMatch(msg, /private_key|listen_port/)
  })
})
