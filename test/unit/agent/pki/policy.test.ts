import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ParsedCsr } from '../../../../agent/pki/csr.js'
import {
  checkSigningRequest,
  type PolicyDecision,
  type SigningRequest,
} from '../../../../agent/pki/policy.js'
import { PROFILE_NAMES, PROFILES } from '../../../../agent/pki/profiles.js'
import { IDENTITIES, node } from './fixtures.js'

// The signing policy is pure: plain CSR facts in, a plan or a typed refusal out.

const csr = (over: Partial<ParsedCsr> = {}): ParsedCsr => ({
  commonName: node.nodeId,
  organizations: [],
  dnsNames: [],
  ips: [],
  requestsCa: false,
  keyBits: 2048,
  publicKeyPem: '',
  ...over,
})

const agent = (over: Partial<SigningRequest> = {}): SigningRequest => ({
  profile: 'agent',
  identity: IDENTITIES.agent,
  ...over,
})

function refused(decision: PolicyDecision, code: string, reason: string) {
  assert.equal(decision.ok, false, 'expected a refusal')
  if (!decision.ok) {
    assert.equal(decision.code, code)
    assert.equal(decision.reason, reason)
    assert.ok(decision.message.length > 0)
  }
}

describe('checkSigningRequest', () => {
  test('the joiner gets exactly its own identity', () => {
    const d = checkSigningRequest(
      csr({ organizations: ['homecloud:nodes'] }),
      agent({ allowedIps: ['10.77.0.2'] }),
    )
    assert.ok(d.ok)
    assert.deepEqual(d.plan, {
      profile: 'agent',
      commonName: node.nodeId,
      organizations: ['homecloud:nodes'],
      organizationalUnit: 'homecloud:agent',
      dnsNames: ['pi5-1', node.nodeId],
      ips: ['10.77.0.2'],
      serverAuth: true,
      clientAuth: true,
    })
  })

  test('every profile plans with its fixed identity', () => {
    for (const profile of PROFILE_NAMES) {
      const cn = PROFILES[profile].commonName(IDENTITIES[profile])!
      const d = checkSigningRequest(csr({ commonName: cn }), { profile, identity: IDENTITIES[profile] })
      assert.ok(d.ok, `${profile}: ${!d.ok && d.message}`)
    }
  })

  test('CN must be the requested identity', () => {
    refused(checkSigningRequest(csr({ commonName: 'n-other' }), agent()), 'PKI_CSR_MISMATCH', 'cn-mismatch')
    const kubelet = { profile: 'kubelet', identity: { nodeName: 'pi5-1' } } as const
    refused(
      checkSigningRequest(csr({ commonName: 'system:node:pi5-2' }), kubelet),
      'PKI_CSR_MISMATCH',
      'cn-mismatch',
    )
    assert.ok(checkSigningRequest(csr({ commonName: 'system:node:pi5-1' }), kubelet).ok)
  })

  test('subject overrides come from the signer and the CSR must match them', () => {
    const req = {
      profile: 'etcd-client',
      identity: { nodeId: node.nodeId },
      subject: { commonName: 'kube-apiserver-etcd-client' },
    } as const
    refused(checkSigningRequest(csr(), req), 'PKI_CSR_MISMATCH', 'cn-mismatch')
    const d = checkSigningRequest(csr({ commonName: 'kube-apiserver-etcd-client' }), req)
    assert.ok(d.ok)
    assert.equal(d.plan.commonName, 'kube-apiserver-etcd-client')
  })

  test('no CA rights, no extra groups, no weak keys', () => {
    refused(checkSigningRequest(csr({ requestsCa: true }), agent()), 'PKI_FORBIDDEN_REQUEST', 'ca-requested')
    refused(
      checkSigningRequest(csr({ organizations: ['system:masters'] }), agent()),
      'PKI_FORBIDDEN_REQUEST',
      'org-not-allowed',
    )
    refused(checkSigningRequest(csr({ keyBits: 1024 }), agent()), 'PKI_FORBIDDEN_REQUEST', 'weak-key')
    assert.ok(checkSigningRequest(csr({ keyBits: 1024 }), agent({ minKeyBits: 1024 })).ok)
  })

  test("another node's id, name or address is never granted", () => {
    const taken = (names: string[]) => agent({ reservedNames: names })
    refused(checkSigningRequest(csr(), taken([node.nodeId])), 'PKI_FORBIDDEN_REQUEST', 'name-taken')
    refused(checkSigningRequest(csr(), taken(['PI5-1'])), 'PKI_FORBIDDEN_REQUEST', 'name-taken')
    refused(checkSigningRequest(csr(), taken(['10.77.0.2'])), 'PKI_FORBIDDEN_REQUEST', 'name-taken')
    refused(
      checkSigningRequest(csr({ dnsNames: ['pi5-2'] }), taken(['pi5-2'])),
      'PKI_FORBIDDEN_REQUEST',
      'name-taken',
    )
    refused(
      checkSigningRequest(csr(), agent({ sans: { dnsNames: ['pi5-2'] }, reservedNames: ['pi5-2'] })),
      'PKI_FORBIDDEN_REQUEST',
      'name-taken',
    )
    assert.ok(checkSigningRequest(csr(), taken(['pi5-2', '10.77.0.3'])).ok)
  })

  test('addresses must be the ones the caller allows (IPv6 compared canonically)', () => {
    refused(
      checkSigningRequest(csr(), agent({ allowedIps: ['10.77.0.3'] })),
      'PKI_FORBIDDEN_REQUEST',
      'ip-not-allowed',
    )
    refused(
      checkSigningRequest(csr({ ips: ['10.77.0.9'] }), agent({ allowedIps: ['10.77.0.2'] })),
      'PKI_FORBIDDEN_REQUEST',
      'ip-not-allowed',
    )
    refused(
      checkSigningRequest(csr(), agent({ sans: { ips: ['10.77.0.9'] }, allowedIps: ['10.77.0.2'] })),
      'PKI_FORBIDDEN_REQUEST',
      'ip-not-allowed',
    )
    const v6 = agent({ identity: { ...IDENTITIES.agent, ips: ['fd00:0:0::0001'] }, allowedIps: ['fd00::1'] })
    const d = checkSigningRequest(csr(), v6)
    assert.ok(d.ok)
    assert.deepEqual(d.plan.ips, ['fd00::1'])
    // Profile-fixed addresses (service IP, loopback) are not node addresses.
    const api = checkSigningRequest(csr({ commonName: 'kube-apiserver' }), {
      profile: 'kube-apiserver',
      identity: IDENTITIES['kube-apiserver'],
      allowedIps: ['10.77.0.2'],
    })
    assert.ok(api.ok)
    assert.deepEqual(api.plan.ips.sort(), ['10.77.0.2', '10.96.0.1', '127.0.0.1'])
  })

  test('SANs asked for in the CSR must be a subset of the plan', () => {
    assert.ok(checkSigningRequest(csr({ dnsNames: ['PI5-1'], ips: ['10.77.0.2'] }), agent()).ok)
    refused(
      checkSigningRequest(csr({ dnsNames: ['evil.example'] }), agent()),
      'PKI_FORBIDDEN_REQUEST',
      'san-not-allowed',
    )
    refused(
      checkSigningRequest(csr({ ips: ['10.77.0.7'] }), agent()),
      'PKI_FORBIDDEN_REQUEST',
      'san-not-allowed',
    )
  })

  test('a profile missing what it needs, or given bad names, is a request error', () => {
    refused(
      checkSigningRequest(csr(), agent({ identity: { nodeId: node.nodeId } })),
      'PKI_REQUEST_INVALID',
      'identity-incomplete',
    )
    refused(
      checkSigningRequest(csr(), { profile: 'etcd-peer', identity: { nodeId: node.nodeId } }),
      'PKI_REQUEST_INVALID',
      'identity-incomplete',
    )
    refused(
      checkSigningRequest(csr(), { profile: 'etcd-server', identity: { nodeId: node.nodeId } }),
      'PKI_REQUEST_INVALID',
      'ip-required',
    )
    assert.ok(
      checkSigningRequest(csr(), {
        profile: 'etcd-server',
        identity: { nodeId: node.nodeId, localhost: true },
      }).ok,
    )
    refused(
      checkSigningRequest(csr(), agent({ identity: { ...IDENTITIES.agent, nodeName: 'bad name' } })),
      'PKI_REQUEST_INVALID',
      'bad-name',
    )
    refused(
      checkSigningRequest(csr(), agent({ identity: { ...IDENTITIES.agent, ips: ['10.77.0.300'] } })),
      'PKI_REQUEST_INVALID',
      'bad-name',
    )
  })
})
