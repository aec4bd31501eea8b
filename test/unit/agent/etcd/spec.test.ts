import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import {
  buildEtcdArgs,
  clientUrlOf,
  type EtcdMemberSpec,
  etcdFiles,
  peerUrlOf,
} from '../../../../agent/etcd/spec.js'

const tls = {
  caFile: '/s/pki/ca.crt',
  serverCertFile: '/s/pki/etcd/server.crt',
  serverKeyFile: '/s/pki/etcd/server.key',
  peerCertFile: '/s/pki/etcd/peer.crt',
  peerKeyFile: '/s/pki/etcd/peer.key',
}

const spec: EtcdMemberSpec = {
  name: 'n1',
  dataDir: '/s/data/etcd',
  address: '10.77.0.2',
  initialCluster: [{ name: 'n1', peerUrl: 'https://10.77.0.2:2380' }],
  initialClusterState: 'new',
  initialClusterToken: 'c-123',
  tls,
}

const flag = (args: string[], name: string) => {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  return hit === undefined ? undefined : hit === `--${name}` ? true : hit.slice(name.length + 3)
}

describe('buildEtcdArgs', () => {
  it('listens on the node address only, mutual TLS on both ports', () => {
    const args = buildEtcdArgs(spec)
    assert.equal(flag(args, 'listen-client-urls'), 'https://10.77.0.2:2379')
    assert.equal(flag(args, 'advertise-client-urls'), 'https://10.77.0.2:2379')
    assert.equal(flag(args, 'listen-peer-urls'), 'https://10.77.0.2:2380')
    assert.equal(flag(args, 'initial-advertise-peer-urls'), 'https://10.77.0.2:2380')
    assert.equal(flag(args, 'client-cert-auth'), true)
    assert.equal(flag(args, 'peer-client-cert-auth'), true)
    assert.equal(flag(args, 'trusted-ca-file'), tls.caFile)
    assert.equal(flag(args, 'peer-trusted-ca-file'), tls.caFile)
    assert.equal(flag(args, 'cert-file'), tls.serverCertFile)
    assert.equal(flag(args, 'peer-key-file'), tls.peerKeyFile)
    assert.ok(!args.some((a) => a.includes('http://') || a.includes('0.0.0.0')), 'no plain HTTP, no wildcard')
  })

  it('carries name, data dir, initial cluster and state as --flag=value', () => {
    const args = buildEtcdArgs({
      ...spec,
      initialCluster: [
        { name: 'n0', peerUrl: 'https://10.77.0.1:2380' },
        { name: 'n1', peerUrl: 'https://10.77.0.2:2380' },
      ],
      initialClusterState: 'existing',
    })
    assert.ok(args.includes('--data-dir=/s/data/etcd'), 'a stale process is found by this exact argument')
    assert.equal(flag(args, 'name'), 'n1')
    assert.equal(flag(args, 'initial-cluster'), 'n0=https://10.77.0.1:2380,n1=https://10.77.0.2:2380')
    assert.equal(flag(args, 'initial-cluster-state'), 'existing')
    assert.equal(flag(args, 'initial-cluster-token'), 'c-123')
    assert.equal(flag(args, 'logger'), 'zap')
    assert.equal(flag(args, 'pre-vote'), true)
    assert.ok(args.every((a) => a.startsWith('--')))
    assert.ok(
      !args.some((a) => a.startsWith('--experimental')),
      'no experimental flags: 3.6 deprecated or renamed them all',
    )
  })

  it('applies tuning and board limits', () => {
    const args = buildEtcdArgs({
      ...spec,
      heartbeatMs: 250,
      electionTimeoutMs: 2500,
      quotaBackendBytes: 1 << 29,
    })
    assert.equal(flag(args, 'heartbeat-interval'), '250')
    assert.equal(flag(args, 'election-timeout'), '2500')
    assert.equal(flag(args, 'quota-backend-bytes'), String(1 << 29))
    assert.equal(flag(args, 'snapshot-count'), '10000')
    assert.equal(flag(args, 'auto-compaction-retention'), '1h')
  })

  it('brackets IPv6 addresses', () => {
    assert.equal(clientUrlOf('fd00::2'), 'https://[fd00::2]:2379')
    const args = buildEtcdArgs({
      ...spec,
      address: 'fd00::2',
      initialCluster: [{ name: 'n1', peerUrl: peerUrlOf('fd00::2') }],
    })
    assert.equal(flag(args, 'listen-peer-urls'), 'https://[fd00::2]:2380')
  })

  it('refuses specs etcd would refuse later, or worse, accept', () => {
    const refuses = (s: EtcdMemberSpec) => assert.throws(() => buildEtcdArgs(s), HomecloudError)
    refuses({ ...spec, address: 'pi5-1.local' })
    refuses({ ...spec, initialCluster: [{ name: 'n2', peerUrl: 'https://10.77.0.3:2380' }] })
    refuses({ ...spec, initialCluster: [{ name: 'n1', peerUrl: 'https://10.77.0.9:2380' }] })
    refuses({ ...spec, heartbeatMs: 500, electionTimeoutMs: 1000 })
    refuses({ ...spec, initialCluster: [] })
  })
})

describe('etcdFiles', () => {
  it('keeps data under the state dir and certificates in the PKI layout', () => {
    const f = etcdFiles('/var/lib/homecloud')
    assert.equal(f.dataDir, '/var/lib/homecloud/data/etcd')
    assert.equal(f.tls.caFile, '/var/lib/homecloud/pki/ca.crt')
    assert.equal(f.tls.serverCertFile, '/var/lib/homecloud/pki/etcd/server.crt')
    assert.equal(f.tls.peerKeyFile, '/var/lib/homecloud/pki/etcd/peer.key')
    assert.equal(f.client.certFile, '/var/lib/homecloud/pki/etcd/client.crt')
  })
})
