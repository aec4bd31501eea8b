import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { EtcdClient } from '../../../../agent/etcd/client.js'
import { EtcdError } from '../../../../agent/etcd/model/errors.js'
import { createCa } from '../../../../agent/pki/ca.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'

// The client against a fake JSON gateway (real HTTPS, mutual TLS, on 127.0.0.1): how
// etcd's refusals, learners, dead endpoints and malformed answers come out.

type Reply = { status?: number; json?: unknown; raw?: string; delayMs?: number }
type Handler = (body: Record<string, unknown>) => Reply

const clock = { nowMs: () => Date.now() }
const ca = createCa({ clusterId: 'c-gw', clusterName: 'gw', clock, keyBits: 2048 })
const server = issueCertificate({
  ca,
  profile: 'etcd-server',
  identity: { nodeId: 'gw', ips: ['127.0.0.1'] },
  clock,
})
const client = issueCertificate({ ca, profile: 'etcd-client', identity: { nodeId: 'test' }, clock })
const tls = { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem }

const grpcError = (status: number, code: number, message: string): Reply => ({
  status,
  json: { error: message, message, code },
})

class FakeGateway {
  readonly handlers = new Map<string, Handler>()
  readonly seen: { path: string; body: Record<string, unknown> }[] = []
  private server!: Server
  url = ''

  async start(): Promise<void> {
    this.server = createServer(
      {
        cert: server.certPem,
        key: server.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        let text = ''
        req.on('data', (c) => {
          text += c
        })
        req.on('end', () => {
          const body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
          this.seen.push({ path: req.url ?? '', body })
          const reply = this.handlers.get(req.url ?? '')?.(body) ?? grpcError(404, 5, 'Not Found')
          setTimeout(() => {
            res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' })
            res.end(reply.raw ?? JSON.stringify(reply.json ?? {}))
          }, reply.delayMs ?? 0)
        })
      },
    )
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((r) => this.server.close(r))
  }
}

/** A port nothing listens on: connection refused. */
const deadEndpoint = 'https://127.0.0.1:1'

describe('etcd client over the JSON gateway', () => {
  const gw = new FakeGateway()
  const clients: EtcdClient[] = []
  const make = (endpoints: string[], requestTimeoutMs?: number) => {
    const c = new EtcdClient({ endpoints, tls, requestTimeoutMs }, { clock: systemClock() })
    clients.push(c)
    return c
  }

  before(async () => {
    await gw.start()
  })
  after(async () => {
    for (const c of clients) c.close()
    await gw.stop()
  })

  it('sends ids as decimal strings and reads them back exactly', async () => {
    gw.handlers.set('/v3/cluster/member/remove', () => ({ json: { header: {}, members: [] } }))
    const c = make([gw.url])
    assert.deepEqual(await c.memberRemove(14362975836686699847n), { removed: true })
    assert.deepEqual(gw.seen.at(-1)?.body, { ID: '14362975836686699847' })
  })

  it('moves past a dead endpoint and keeps using the one that answered', async () => {
    gw.handlers.set('/v3/kv/put', () => ({ json: { header: { revision: '7' } } }))
    const c = make([deadEndpoint, gw.url])
    assert.equal(await c.put('k', 'v'), 7)
    assert.equal(await c.put('k', 'v'), 7)
    const puts = gw.seen.filter((s) => s.path === '/v3/kv/put')
    assert.deepEqual(puts.at(-1)?.body, { key: 'aw==', value: 'dg==' })
  })

  it('asks another member when a learner refuses, but reports other refusals at once', async () => {
    const learner = new FakeGateway()
    await learner.start()
    try {
      learner.handlers.set('/v3/cluster/member/list', () =>
        grpcError(503, 14, 'etcdserver: rpc not supported for learner'),
      )
      gw.handlers.set('/v3/cluster/member/list', () => ({
        json: { header: { cluster_id: '5' }, members: [{ ID: '18263072857035596408', name: 'n1' }] },
      }))
      const list = await make([learner.url, gw.url]).memberList()
      assert.equal(list.members[0]?.id, 18263072857035596408n)

      learner.handlers.set('/v3/kv/put', () => grpcError(503, 14, 'etcdserver: no leader'))
      await assert.rejects(make([learner.url, gw.url]).put('k', 'v'), (err: unknown) => {
        assert.ok(err instanceof EtcdError)
        assert.equal(err.code, 'ETCD_REQUEST_FAILED')
        assert.deepEqual(err.failure, {
          endpoint: learner.url,
          httpStatus: 503,
          grpcCode: 14,
          etcdMessage: 'etcdserver: no leader',
        })
        return true
      })
    } finally {
      await learner.stop()
    }
  })

  it('names malformed answers and silent endpoints', async () => {
    gw.handlers.set('/v3/maintenance/status', () => ({ json: { header: {}, version: 3 } }))
    await assert.rejects(make([gw.url]).status(gw.url), { code: 'ETCD_RESPONSE_INVALID', message: /version/ })
    gw.handlers.set('/v3/kv/range', () => ({ raw: 'not json' }))
    await assert.rejects(make([gw.url]).get('k'), { code: 'ETCD_RESPONSE_INVALID' })
    gw.handlers.set('/v3/kv/range', () => ({ json: {}, delayMs: 2000 }))
    await assert.rejects(make([gw.url], 200).get('k'), { code: 'ETCD_UNREACHABLE', message: /200 ms/ })
    const h = await make([gw.url]).health(deadEndpoint)
    assert.equal(h.healthy, false)
    assert.match(h.error ?? '', /ECONNREFUSED/)
  })

  it('retries promote while the learner catches up, and treats "already a voter" as done', async () => {
    let attempts = 0
    gw.handlers.set('/v3/cluster/member/promote', () =>
      ++attempts < 3
        ? grpcError(412, 9, 'etcdserver: can only promote a learner member which is in sync with leader')
        : { json: { header: {}, members: [] } },
    )
    const c = make([gw.url])
    assert.equal(await c.promoteWhenReady(5n, { intervalMs: 10 }), 'promoted')
    assert.equal(attempts, 3)

    gw.handlers.set('/v3/cluster/member/promote', () =>
      grpcError(412, 9, 'etcdserver: can only promote a learner member'),
    )
    assert.equal(await c.promoteWhenReady(5n), 'already-voter')

    gw.handlers.set('/v3/cluster/member/promote', () =>
      grpcError(412, 9, 'etcdserver: can only promote a learner member which is in sync with leader'),
    )
    await assert.rejects(c.promoteWhenReady(5n, { timeoutMs: 100, intervalMs: 10 }), {
      code: 'ETCD_LEARNER_NOT_READY',
    })
    gw.handlers.set('/v3/cluster/member/promote', () => grpcError(404, 5, 'etcdserver: member not found'))
    await assert.rejects(c.promoteWhenReady(5n), { code: 'ETCD_MEMBER_NOT_FOUND' })
  })

  it('treats a missing member, lease or election leader as an answer', async () => {
    const c = make([gw.url])
    gw.handlers.set('/v3/cluster/member/remove', () => grpcError(404, 5, 'etcdserver: member not found'))
    assert.deepEqual(await c.memberRemove(9n), { removed: false })
    gw.handlers.set('/v3/lease/revoke', () => grpcError(404, 5, 'etcdserver: requested lease not found'))
    await c.leaseRevoke(9n)
    gw.handlers.set('/v3/election/leader', () => grpcError(500, 2, 'election: no leader'))
    assert.equal(await c.leader('/x'), undefined)
    gw.handlers.set('/v3/lease/keepalive', () => ({ json: { result: { header: {}, ID: '9' } } }))
    assert.equal(await c.leaseKeepAliveOnce(9n), 0)
  })

  it('adds a learner once the cluster allows it, and finds it if an earlier add went through', async () => {
    let attempts = 0
    const learner = { ID: '77', peerURLs: ['https://10.77.0.9:2380'], isLearner: true }
    gw.handlers.set('/v3/cluster/member/add', () =>
      ++attempts < 2
        ? grpcError(503, 14, 'etcdserver: unhealthy cluster')
        : grpcError(412, 9, 'etcdserver: Peer URLs already exists'),
    )
    gw.handlers.set('/v3/cluster/member/list', () => ({ json: { header: {}, members: [learner] } }))
    const added = await make([gw.url]).addLearnerWhenAllowed('https://10.77.0.9:2380', { intervalMs: 10 })
    assert.equal(added.member.id, 77n)
    assert.equal(attempts, 2)
  })
})
