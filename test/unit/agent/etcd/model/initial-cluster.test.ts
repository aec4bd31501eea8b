import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../../agent/core/errors.js'
import {
  formatInitialCluster,
  initialClusterForJoin,
  parseInitialCluster,
} from '../../../../../agent/etcd/model/initial-cluster.js'
import type { EtcdMember } from '../../../../../agent/etcd/model/members.js'

const member = (id: bigint, name: string, ip: string, isLearner = false): EtcdMember => ({
  id,
  name,
  peerUrls: [`https://${ip}:2380`],
  clientUrls: name ? [`https://${ip}:2379`] : [],
  isLearner,
})

describe('initial-cluster strings', () => {
  it('formats and parses back', () => {
    const entries = [
      { name: 'n1', peerUrl: 'https://10.77.0.2:2380' },
      { name: 'n2', peerUrl: 'https://10.77.0.3:2380' },
    ]
    const text = formatInitialCluster(entries)
    assert.equal(text, 'n1=https://10.77.0.2:2380,n2=https://10.77.0.3:2380')
    assert.deepEqual(parseInitialCluster(text), entries)
  })

  it('refuses what etcd would split wrongly', () => {
    for (const bad of [
      [],
      [{ name: 'a,b', peerUrl: 'https://10.77.0.2:2380' }],
      [{ name: 'a=b', peerUrl: 'https://10.77.0.2:2380' }],
      [{ name: '', peerUrl: 'https://10.77.0.2:2380' }],
      [{ name: 'n1', peerUrl: '10.77.0.2:2380' }],
      [
        { name: 'n1', peerUrl: 'https://10.77.0.2:2380' },
        { name: 'n2', peerUrl: 'https://10.77.0.2:2380' },
      ],
    ])
      assert.throws(() => formatInitialCluster(bad), HomecloudError, JSON.stringify(bad))
    for (const bad of ['', 'n1', 'n1=', '=https://10.77.0.2:2380', 'n1=https://a:1,,n2=https://b:2'])
      assert.throws(() => parseInitialCluster(bad), HomecloudError, bad)
  })
})

describe('initialClusterForJoin', () => {
  it('lists every member, the joiner under its own name', () => {
    const members = [
      member(1n, 'n1', '10.77.0.2'),
      member(2n, 'n2', '10.77.0.3'),
      member(3n, '', '10.77.0.4', true),
    ]
    assert.deepEqual(initialClusterForJoin(members, { name: 'n3', peerUrl: 'https://10.77.0.4:2380' }), [
      { name: 'n1', peerUrl: 'https://10.77.0.2:2380' },
      { name: 'n2', peerUrl: 'https://10.77.0.3:2380' },
      { name: 'n3', peerUrl: 'https://10.77.0.4:2380' },
    ])
  })

  it('keeps a voter that never started (its URL must match) under a placeholder', () => {
    const members = [
      member(1n, 'n1', '10.77.0.2'),
      member(0xabcn, '', '10.77.0.3'),
      member(3n, '', '10.77.0.4', true),
    ]
    const entries = initialClusterForJoin(members, { name: 'n3', peerUrl: 'https://10.77.0.4:2380' })
    assert.equal(entries[1]!.name, 'unstarted-abc')
    assert.doesNotThrow(() => formatInitialCluster(entries))
  })

  it('refuses to start a member that was never added', () => {
    assert.throws(
      () =>
        initialClusterForJoin([member(1n, 'n1', '10.77.0.2')], {
          name: 'n3',
          peerUrl: 'https://10.77.0.4:2380',
        }),
      /add the member/,
    )
  })
})
