import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { buildClusterView } from '../../../../agent/api/cluster-view.js'
import { PeerClient } from '../../../../agent/api/peer-client.js'
import { buildTlsApi } from '../../../../agent/api/tls-server.js'
import { systemClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { createCa } from '../../../../agent/pki/ca.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'

// A node asks another over the agent API (7443) with its own agent certificate: mutual
// TLS, and the answer must come from the node it meant to ask.

const clock = systemClock()
const ca = createCa({ clusterId: 'c1', clusterName: 'home', clock })
const agentCert = (nodeId: string, nodeName: string) =>
  issueCertificate({ ca, profile: 'agent', identity: { nodeId, nodeName, ips: ['127.0.0.1'] }, clock })
const voter = agentCert('voter0000000000000001', 'pi5-1')
const worker = agentCert('worker000000000000002', 'x86-5')
const answer = {
  controlPlane: {
    voters: ['voter0000000000000001'],
    learners: [],
    leader: null,
    quorum: true,
    source: 'etcd',
  },
  coordinator: null,
  kube: null,
}
let etcdView: typeof answer | null = answer

const app = buildTlsApi(
  {
    log: silentLogger(),
    counters: new Counters(),
    nowMs: () => clock.nowMs(),
    caPem: () => ca.certPem,
    revokedSerials: () => new Set(),
    isRevoked: () => false,
    isSigner: () => false,
    approve: () => null,
    revoke: () => null,
    setJoinPolicy: () => {},
    setStateDiskPolicy: () => {},
    clusterView: () => ({}),
    controlPlane: () => etcdView as never,
    stats: (since) => ({ source: 'lab', samples: since > 0 ? [] : [] }),
  },
  { certPem: voter.certPem, keyPem: voter.keyPem, caPem: ca.certPem },
)
let base = ''
before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})
after(() => app.close())

describe('peer client on the agent API', () => {
  const counters = new Counters()
  const client = new PeerClient({
    material: () => ({ certPem: worker.certPem, keyPem: worker.keyPem, caPem: ca.certPem }),
    counters,
  })
  after(() => client.close())
  const get = (path: string, over: { nodeId?: string; bodyBytesMax?: number } = {}) =>
    client.get({
      url: `${base}${path}`,
      nodeId: over.nodeId ?? 'voter0000000000000001',
      bodyBytesMax: over.bodyBytesMax ?? 64 * 1024,
      timeoutMs: 3000,
      what: 'test',
    })

  test('a voter hands its own etcd view to any member; every byte is counted', async () => {
    assert.deepEqual(await get('/api/v1/control-plane'), answer)
    assert.ok(counters.get('homecloud_peer_api_bytes_total', { what: 'test' }) > 100)
    etcdView = null
    await assert.rejects(get('/api/v1/control-plane'), /HTTP 503: this node does not read etcd itself/)
    etcdView = answer
  })

  test('an answer under another node’s certificate is refused', async () => {
    await assert.rejects(
      get('/api/v1/control-plane', { nodeId: 'someone-else' }),
      /answered as voter0000000000000001, not someone-else/,
    )
  })

  test('an answer larger than asked for is cut off', async () => {
    await assert.rejects(get('/api/v1/control-plane', { bodyBytesMax: 20 }), /answer over 20 bytes/)
  })

  test('stats: since is checked', async () => {
    assert.deepEqual(await get('/api/v1/stats?since=5'), { source: 'lab', samples: [] })
    await assert.rejects(get('/api/v1/stats?since=-1'), /HTTP 400: since/)
    await assert.rejects(get('/api/v1/stats?since=abc'), /HTTP 400/)
  })

  test('without a certificate of its own a node asks nobody', async () => {
    const none = new PeerClient({ material: () => null, counters })
    await assert.rejects(
      none.get({ url: `${base}/api/v1/stats`, nodeId: 'x', bodyBytesMax: 10, timeoutMs: 100, what: 't' }),
      /no certificate yet/,
    )
  })
})

describe('the view joins Kubernetes Nodes and load to members', () => {
  test('by name for Nodes, by id for load', () => {
    const record = (id: string, name: string) => ({
      clusterId: 'c1',
      id,
      publicKey: '00'.repeat(32),
      name,
      addresses: ['127.0.0.1'],
      ports: { api: 7080, tls: 7443, dht: 49737 },
      facts: { arch: 'arm64', board: 'b', memoryMB: 1, cores: 1, storageClass: 'nvme', fsyncP99Ms: 1 },
      version: '1',
      roles: ['worker'],
      incarnation: 1,
      heartbeat: 1,
      startedAtMs: 0,
    })
    const kube = {
      name: 'pi5-1',
      ready: 'True' as const,
      kubeletVersion: 'v1.37.1',
      podsRunning: 3,
      unschedulable: false,
      cordonedBy: null,
      drain: null,
      upgradeStep: null,
    }
    const view = buildClusterView({
      cluster: { id: 'c1', name: 'home' },
      self: { record: record('a', 'pi5-1') as never, nowMs: 1 },
      members: [],
      events: [],
      kube: [kube, { ...kube, name: 'not-a-member' }],
      stats: (id, self) =>
        self && id === 'a'
          ? {
              source: 'machine',
              atMs: 1,
              cpuPct: 1,
              memUsedMB: 1,
              memTotalMB: 2,
              diskUsedPct: null,
              tempC: null,
              throttled: null,
              history: [],
            }
          : undefined,
    })
    assert.equal(view.members[0]!.kube?.podsRunning, 3)
    assert.equal(view.members[0]!.stats?.source, 'machine')
  })
})
