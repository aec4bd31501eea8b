import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FastifyRequest } from 'fastify'
import { callerMay, DrainBody } from '../../../../agent/components/drain-routes.js'
import type { Mesh } from '../../../../agent/mesh/mesh.js'

// Who may ask a voter to drain a node over 7443: the admin any node, a node only itself.

const mesh = {
  peers: {
    self: () => ({ id: 'v1', name: 'pi5-1' }),
    members: () => [
      { signed: { body: { id: 'w4', name: 'x86-4' } } },
      { signed: { body: { id: 'w5', name: 'x86-5' } } },
    ],
  },
} as unknown as Mesh
const req = (peer: object | undefined) => ({ peer }) as unknown as FastifyRequest

describe('drain requests over 7443', () => {
  test('the admin may drain any node; a node only itself (the voter answering too)', () => {
    assert.equal(callerMay(req({ profile: 'admin', commonName: 'admin' }), 'x86-5', mesh), null)
    assert.equal(callerMay(req({ profile: 'agent', commonName: 'w4' }), 'x86-4', mesh), null)
    assert.equal(callerMay(req({ profile: 'agent', commonName: 'v1' }), 'pi5-1', mesh), null)
    assert.match(
      String(callerMay(req({ profile: 'agent', commonName: 'w4' }), 'x86-5', mesh)),
      /a node may drain only itself \(x86-4 asked for x86-5\)/,
    )
    assert.match(
      String(callerMay(req({ profile: 'agent', commonName: 'stranger' }), 'x86-4', mesh)),
      /stranger/,
    )
    assert.equal(callerMay(req(undefined), 'x86-4', mesh), 'no client certificate')
  })

  test('a request is a node name, a bounded timeout and nothing else', () => {
    assert.deepEqual(DrainBody.parse({ node: 'x86-4' }), {
      node: 'x86-4',
      undrain: false,
      timeoutMs: 120_000,
    })
    assert.equal(DrainBody.safeParse({ node: '' }).success, false)
    assert.equal(DrainBody.safeParse({ node: 'x', timeoutMs: 10 }).success, false)
    assert.equal(DrainBody.safeParse({ node: 'x', extra: 1 }).success, false)
  })
})
