import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { createCa } from '../../../../agent/pki/ca.js'
import { readCertificate } from '../../../../agent/pki/cert.js'
import { createCsr } from '../../../../agent/pki/csr.js'
import { type NodeProfileRequest, signNodeProfile } from '../../../../agent/trust/node-profile.js'

// The signer's decision on a member's request for its Kubernetes identity, with a real CA
// and real CSRs: only the requester's own name is ever granted.

const clock = systemClock()
const ca = createCa({ clusterId: 'c1', clusterName: 'test', clock, keyBits: 2048 })
const csrFor = (cn: string, o: string[]) => createCsr({ commonName: cn, organizations: o }).csrPem
const base = (over: Partial<NodeProfileRequest> = {}): NodeProfileRequest => ({
  profile: 'kubelet',
  requester: { id: 'aaaa', name: 'pi4-2', member: true, revoked: false },
  askedName: 'pi4-2',
  csrPem: csrFor('system:node:pi4-2', ['system:nodes']),
  reservedNames: ['bbbb', 'pi5-1', '127.0.9.2'],
  ca,
  clock,
  ...over,
})

describe('signNodeProfile', () => {
  test('a member gets a kubelet certificate for its own name', () => {
    const r = signNodeProfile(base())
    assert.ok(r.ok)
    const info = readCertificate(r.certPem)
    assert.equal(info.commonName, 'system:node:pi4-2')
    assert.equal(info.profile, 'kubelet')
  })

  test('and a kwok certificate for its own name', () => {
    const r = signNodeProfile(
      base({ profile: 'kwok', csrPem: csrFor('homecloud-kwok:pi4-2', ['homecloud:kwok']) }),
    )
    assert.ok(r.ok)
    assert.equal(readCertificate(r.certPem).commonName, 'homecloud-kwok:pi4-2')
  })

  test("a kubelet serving certificate names the requester's name and its addresses from the mesh record", () => {
    const r = signNodeProfile(
      base({
        profile: 'kubelet-serving',
        requesterAddresses: ['10.77.1.9'],
        csrPem: csrFor('system:node:pi4-2', ['system:nodes']),
      }),
    )
    assert.ok(r.ok, r.ok ? '' : r.message)
    const info = readCertificate(r.certPem)
    assert.equal(info.commonName, 'system:node:pi4-2')
    assert.deepEqual(info.ips, ['10.77.1.9'])
    assert.ok(info.dnsNames.includes('pi4-2'))
  })

  test('a kubelet serving certificate without a known address is refused, not issued bare', () => {
    const r = signNodeProfile(
      base({ profile: 'kubelet-serving', csrPem: csrFor('system:node:pi4-2', ['system:nodes']) }),
    )
    assert.equal(r.ok ? null : r.reason, 'bad-csr')
    assert.match(r.ok ? '' : r.message, /needs ips/)
  })

  test("another node's name is refused, whether asked by name or slipped into the CSR", () => {
    const byName = signNodeProfile(
      base({ askedName: 'pi5-1', csrPem: csrFor('system:node:pi5-1', ['system:nodes']) }),
    )
    assert.deepEqual(byName.ok ? null : byName.reason, 'name-not-own')
    const inCsr = signNodeProfile(base({ csrPem: csrFor('system:node:pi5-1', ['system:nodes']) }))
    assert.equal(inCsr.ok ? null : inCsr.reason, 'bad-csr')
    assert.match(inCsr.ok ? '' : inCsr.message, /PKI_CSR_MISMATCH/)
    const kwokOther = signNodeProfile(
      base({ profile: 'kwok', csrPem: csrFor('homecloud-kwok:pi5-1', ['homecloud:kwok']) }),
    )
    assert.equal(kwokOther.ok ? null : kwokOther.reason, 'bad-csr')
  })

  test('extra rights in the CSR are refused (system:masters)', () => {
    const r = signNodeProfile(base({ csrPem: csrFor('system:node:pi4-2', ['system:masters']) }))
    assert.equal(r.ok ? null : r.reason, 'bad-csr')
    assert.match(r.ok ? '' : r.message, /organization system:masters/)
  })

  test('non-members, revoked and unknown nodes are refused', () => {
    const r1 = signNodeProfile(
      base({ requester: { id: 'aaaa', name: 'pi4-2', member: false, revoked: false } }),
    )
    assert.equal(r1.ok ? null : r1.reason, 'not-member')
    const r2 = signNodeProfile(
      base({ requester: { id: 'aaaa', name: 'pi4-2', member: true, revoked: true } }),
    )
    assert.equal(r2.ok ? null : r2.reason, 'revoked')
    const r3 = signNodeProfile(
      base({ requester: { id: 'aaaa', name: undefined, member: true, revoked: false } }),
    )
    assert.equal(r3.ok ? null : r3.reason, 'unknown-node')
  })
})
