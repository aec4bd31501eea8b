import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { connect, createServer, type Server, type TLSSocket } from 'node:tls'
import { type CaMaterial, createCa } from '../../../../agent/pki/ca.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import {
  checkPeer,
  peerIdentity,
  type TlsMaterial,
  tlsClientOptions,
  tlsServerOptions,
} from '../../../../agent/pki/tls.js'
import { testCa } from './fixtures.js'

// Real handshakes on 127.0.0.1 with our certificates. Node enforces chain and validity
// (judged against the real clock, so these certificates are issued on it); revocation
// and profile are the server's own check right after the handshake.

const realClock = { nowMs: () => Date.now() }

function agentMaterial(
  ca: CaMaterial,
  nodeId: string,
  nodeName: string,
  ip = '127.0.0.1',
): TlsMaterial & { serial: string } {
  const issued = issueCertificate({
    ca,
    profile: 'agent',
    identity: { nodeId, nodeName, ips: [ip] },
    clock: realClock,
  })
  return { caPem: testCa().certPem, certPem: issued.certPem, keyPem: issued.keyPem, serial: issued.serial }
}

interface Outcome {
  data: string
  error?: string
}

function dial(port: number, material: TlsMaterial, expectedCommonName?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = ''
    let error: string | undefined
    const socket = connect({ host: '127.0.0.1', port, ...tlsClientOptions(material, { expectedCommonName }) })
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      data += chunk
    })
    socket.on('error', (err) => {
      error ??= err.message
    })
    socket.on('close', () => resolve({ data, error }))
  })
}

describe('mutual TLS with cluster certificates', () => {
  let server: Server
  let port: number
  const revoked = new Set<string>()
  const serverSaw: string[] = []
  const handshakeErrors: string[] = []
  let server1: ReturnType<typeof agentMaterial>

  before(async () => {
    server1 = agentMaterial(testCa(), 'n-server', 'pi5-1')
    server = createServer(tlsServerOptions(server1), (socket: TLSSocket) => {
      const verdict = checkPeer(socket, {
        caPem: testCa().certPem,
        nowMs: Date.now(),
        revoked,
        profiles: ['agent', 'admin'],
      })
      if (!verdict.ok) {
        serverSaw.push(`refused:${verdict.reason}`)
        socket.destroy()
        return
      }
      const who = peerIdentity(socket)!
      serverSaw.push(`ok:${who.commonName}:${who.profile}`)
      socket.end(`hello ${verdict.commonName}`)
    })
    // Node drops an unauthorized client right after the handshake, before secureConnection.
    server.on('tlsClientError', (err, socket) =>
      handshakeErrors.push(socket.authorizationError?.toString() ?? err.message),
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })

  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  test('two agents of the same cluster talk', async () => {
    const client = agentMaterial(testCa(), 'n-client', 'pi5-2')
    const out = await dial(port, client, 'n-server')
    assert.equal(out.error, undefined)
    assert.equal(out.data, 'hello n-client')
    assert.ok(serverSaw.includes('ok:n-client:agent'))
  })

  test('the admin certificate is accepted where admin is allowed', async () => {
    const admin = issueCertificate({ ca: testCa(), profile: 'admin', identity: {}, clock: realClock })
    const out = await dial(port, { caPem: testCa().certPem, ...admin })
    assert.equal(out.data, 'hello homecloud-admin')
  })

  test('a client certificate from another CA is refused during the handshake', async () => {
    const otherCa = createCa({ clusterId: 'c-other', clusterName: 'other', clock: realClock, keyBits: 2048 })
    const stranger = agentMaterial(otherCa, 'n-stranger', 'pi5-9')
    const before = handshakeErrors.length
    const out = await dial(port, stranger)
    assert.equal(out.data, '')
    // With TLS 1.3 the client may finish its side before the server's alert arrives, so
    // the server's own report is the reliable signal.
    assert.ok(handshakeErrors.length > before, 'the server reports a TLS client error')
    assert.match(handshakeErrors.at(-1) ?? '', /^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/)
    assert.ok(!serverSaw.some((s) => s.includes('n-stranger')))
  })

  test('a client without a certificate is refused', async () => {
    const before = handshakeErrors.length
    const out = await new Promise<Outcome>((resolve) => {
      let data = ''
      const { cert: _c, key: _k, ...noCert } = tlsClientOptions(server1)
      const socket = connect({ host: '127.0.0.1', port, ...noCert })
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString()
      })
      socket.on('error', () => {})
      socket.on('close', () => resolve({ data }))
    })
    assert.equal(out.data, '')
    assert.ok(handshakeErrors.length > before)
  })

  test('a revoked serial is refused by the server check', async () => {
    const client = agentMaterial(testCa(), 'n-revoked', 'pi5-3')
    revoked.add(client.serial)
    const out = await dial(port, client)
    assert.equal(out.data, '')
    assert.ok(serverSaw.includes('refused:revoked'))
  })

  test('a certificate of the wrong profile is refused by the server check', async () => {
    const kubelet = issueCertificate({
      ca: testCa(),
      profile: 'kubelet',
      identity: { nodeName: 'pi5-4' },
      clock: realClock,
    })
    const out = await dial(port, { caPem: testCa().certPem, ...kubelet })
    assert.equal(out.data, '')
    assert.ok(serverSaw.includes('refused:wrong-profile'))
  })

  test('the client refuses a server that is not the node it meant to reach', async () => {
    const client = agentMaterial(testCa(), 'n-client2', 'pi5-5')
    const out = await dial(port, client, 'n-someone-else')
    assert.match(out.error ?? '', /expected n-someone-else/)
    assert.equal(out.data, '')
  })
})
