import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Fastify from 'fastify'
import { PeerClient } from '../../../../agent/api/peer-client.js'
import { buildTlsApi } from '../../../../agent/api/tls-server.js'
import { systemClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { createCa } from '../../../../agent/pki/ca.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import { NetbootSlots } from '../../../../agent/slots/netboot.js'
import { netbootSlotsKey } from '../../../../agent/slots/netboot-decide.js'
import { registerNetbootSlotsRoutes } from '../../../../agent/slots/netboot-routes.js'
import { type NetbootSlotsClient, RelayNetbootSlots } from '../../../../agent/slots/netboot-store.js'
import { type SlotOrderBody, signSlotOrder } from '../../../../agent/slots/order.js'
import { memoryEtcd } from '../../../support/memory-etcd.js'

// The voter's netboot-slots routes: who may call them, what input they refuse (each a
// clear 4xx that changes nothing), and that a netbooted agent's order is checked again
// here. etcd is an in-memory map with mod revisions (the real one: the cluster test).

const clock = systemClock()
const ca = createCa({ clusterId: 'c1', clusterName: 'test', clock })
const other = createCa({ clusterId: 'c1', clusterName: 'evil', clock })
const mac = '52:54:00:12:34:56'
const running = { id: '1'.repeat(64), version: '1' }
const r2 = { id: '2'.repeat(64), version: '2' }
/** The MACs each caller's mesh record names: n1 is the machine with `mac`, n3 another machine. */
const macsOf = (id: string) => ({ n1: [mac], n3: ['52:54:00:00:00:09'] })[id] ?? null

function app(opts: { member?: boolean } = {}) {
  const etcd = memoryEtcd()
  const a = Fastify()
  // Stands in for the 7443 gate (tls-server.ts): the caller's certificate, from a header.
  a.addHook('onRequest', async (req) => {
    const h = req.headers['x-peer']
    if (typeof h === 'string') {
      const [profile, commonName] = h.split(':')
      req.peer = { ok: true, profile, commonName, serial: '1' } as unknown as typeof req.peer
    }
  })
  registerNetbootSlotsRoutes(a, {
    memberEtcd: () => (opts.member === false ? null : etcd),
    caPem: () => ca.certPem,
    clusterId: 'c1',
    clock,
    macsOf,
  })
  return { a, etcd }
}
let seq = 0
const order = (o: Partial<SlotOrderBody> = {}, key = ca.keyPem) =>
  signSlotOrder(
    {
      v: 1,
      clusterId: 'c1',
      version: ++seq,
      node: 'n1',
      action: 'install',
      release: r2,
      issuedAtMs: 1,
      ...o,
    },
    key,
  )
const post = (a: ReturnType<typeof Fastify>, url: string, body: unknown, peer = 'agent:n1') =>
  a.inject({ method: 'POST', url, payload: body as object, headers: { 'x-peer': peer } })

describe('netboot slots routes (voter side)', () => {
  it('only node certificates; a voter that is no etcd member says so (503)', async () => {
    const { a } = app()
    const boot = { mac, arch: 'amd64', bootId: 'ab'.repeat(8), holds: [] }
    assert.equal((await post(a, '/api/v1/netboot-slots/boot', boot, 'admin:admin')).statusCode, 403)
    const none = await a.inject({ method: 'POST', url: '/api/v1/netboot-slots/boot', payload: boot })
    assert.equal(none.statusCode, 403)
    const { a: notMember } = app({ member: false })
    assert.equal((await post(notMember, '/api/v1/netboot-slots/boot', boot)).statusCode, 503)
  })

  it('refuses malformed input with 400 naming it, writing nothing', async () => {
    const { a, etcd } = app()
    const good = { mac, arch: 'amd64', bootId: 'ab'.repeat(8), holds: [] }
    for (const [bad, what] of [
      [{ ...good, mac: '52:54:00:zz:00:00' }, /MAC/],
      [{ ...good, bootId: 'xyz' }, /boot id/],
      [{ ...good, arch: 'mips' }, /amd64|arm64/],
      [{ ...good, holds: Array(5).fill('a'.repeat(64)) }, /5|4/],
      [{ ...good, extra: 1 }, /extra|Unrecognized/i],
    ] as const) {
      const r = await post(a, '/api/v1/netboot-slots/boot', bad)
      assert.equal(r.statusCode, 400, JSON.stringify(bad))
      assert.match(r.json().message, what)
    }
    const read = await a.inject({
      method: 'GET',
      url: '/api/v1/netboot-slots/read?mac=nope',
      headers: { 'x-peer': 'agent:n1' },
    })
    assert.equal(read.statusCode, 400)
    assert.equal(etcd.kvs.size, 0)
  })

  it('no record: nothing decided; an order signed by the CA for the caller makes one', async () => {
    const { a, etcd } = app()
    const boot = { mac, arch: 'amd64', bootId: 'ab'.repeat(8), holds: [r2.id] }
    assert.deepEqual((await post(a, '/api/v1/netboot-slots/boot', boot)).json(), { kind: 'none' })
    const r = await post(a, '/api/v1/netboot-slots/change', { mac, arch: 'amd64', order: order(), running })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.json().record.state.slots.b.releaseId, r2.id)
    assert.ok(etcd.kvs.has(netbootSlotsKey(mac)))
    const tried = await post(a, '/api/v1/netboot-slots/change', {
      mac,
      arch: 'amd64',
      order: order({ action: 'try', tries: 2 }),
      running,
    })
    assert.equal(tried.json().record.state.trying, 'b')
    const offer = (await post(a, '/api/v1/netboot-slots/boot', boot)).json()
    assert.equal(offer.kind, 'offer')
    assert.equal(offer.releaseId, r2.id)
  })

  it('refuses an order of another CA, for another node, tampered, or replayed', async () => {
    const { a, etcd } = app()
    const change = (o: string, peer = 'agent:n1') =>
      post(a, '/api/v1/netboot-slots/change', { mac, arch: 'amd64', order: o, running }, peer)
    assert.equal((await change(order({}, other.keyPem))).statusCode, 403)
    assert.equal((await change(order(), 'agent:n2')).statusCode, 403)
    const text = order()
    const tampered = JSON.parse(text)
    tampered.body.release.id = '3'.repeat(64)
    assert.equal((await change(JSON.stringify(tampered))).statusCode, 403)
    assert.equal(etcd.kvs.size, 0)
    assert.equal((await change(text)).statusCode, 200)
    const newer = order({ action: 'try', tries: 2 })
    assert.equal((await change(newer)).statusCode, 200)
    const replay = await change(text)
    assert.equal(replay.statusCode, 409)
    assert.match(replay.json().message, /replay/)
  })

  it("binds a change to the caller's own MAC: another machine's is refused, an unknown caller asked again", async () => {
    const { a, etcd } = app()
    // n3's own valid order, applied to n1's machine: 403, nothing written.
    const foreign = await post(
      a,
      '/api/v1/netboot-slots/change',
      { mac, arch: 'amd64', order: order({ node: 'n3' }), running },
      'agent:n3',
    )
    assert.equal(foreign.statusCode, 403)
    assert.match(foreign.json().message, /is not a MAC of n3 .*names 52:54:00:00:00:09/)
    const unknown = await post(
      a,
      '/api/v1/netboot-slots/change',
      { mac, arch: 'amd64', order: order({ node: 'n9' }), running },
      'agent:n9',
    )
    assert.equal(unknown.statusCode, 503)
    assert.equal(etcd.kvs.size, 0)
  })
})

describe('the netbooted agent backend', () => {
  const client: NetbootSlotsClient = {
    read: async () => null,
    boot: async () => ({ kind: 'none' }),
    change: async () => {
      throw new Error('not reached')
    },
  }
  const slots = new NetbootSlots({
    mac,
    arch: 'amd64',
    client,
    running: () => running,
    log: silentLogger(),
    restart: () => {},
  })

  it('reports what it booted before any record exists, and changes nothing without a signed order', async () => {
    const r = await slots.report()
    assert.equal(r.kind, 'netboot')
    assert.equal(r.bootedRelease?.releaseId, running.id)
    assert.equal(r.committed, true)
    await assert.rejects(slots.markGood(), /signed slot order/)
  })
})

describe('a worker through a voter (real mutual TLS on 7443)', () => {
  const cert = (nodeId: string) =>
    issueCertificate({
      ca,
      profile: 'agent',
      identity: { nodeId, nodeName: nodeId, ips: ['127.0.0.1'] },
      clock,
    })
  const voter = cert('voter1')
  const worker = cert('n1')
  const etcd = memoryEtcd()
  const api = buildTlsApi(
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
      controlPlane: () => null as never,
      stats: () => ({ source: 'lab', samples: [] }),
    },
    { certPem: voter.certPem, keyPem: voter.keyPem, caPem: ca.certPem },
  )
  registerNetbootSlotsRoutes(api, {
    memberEtcd: () => etcd,
    caPem: () => ca.certPem,
    clusterId: 'c1',
    clock,
    macsOf,
  })
  let port = 0
  before(async () => {
    await api.listen({ host: '127.0.0.1', port: 0 })
    port = (api.server.address() as AddressInfo).port
  })
  after(() => api.close())
  const relay = () =>
    new RelayNetbootSlots({
      // A dead voter first: the relay moves on to the next.
      voters: () => [
        { id: 'voter0', address: '127.0.0.1', tlsPort: 1 },
        { id: 'voter1', address: '127.0.0.1', tlsPort: port },
      ],
      client: new PeerClient({
        material: () => ({ ...worker, caPem: ca.certPem }),
        counters: new Counters(),
      }),
    })

  it('reads, changes with its own signed order, and asks for a boot; a refusal is not retried elsewhere', async () => {
    const r = relay()
    assert.equal(await r.read(mac), null)
    const rec = await r.change({ mac, arch: 'amd64', order: order({ node: 'n1' }), running })
    assert.equal(rec?.state.slots.b?.releaseId, r2.id)
    await r.change({ mac, arch: 'amd64', order: order({ node: 'n1', action: 'try', tries: 1 }), running })
    const d = await r.boot(mac, { arch: 'amd64', bootId: 'cd'.repeat(8), holds: [r2.id] })
    assert.equal(d.kind === 'offer' && d.mode, 'trying')
    assert.equal((await r.read(mac))?.state.triesLeft, 0)
    await assert.rejects(r.change({ mac, arch: 'amd64', order: order({ node: 'n2' }), running }), /HTTP 403/)
  })
})
