import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { describe, test } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { createCsr } from '../../../../agent/pki/csr.js'
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../../../agent/pki/profiles.js'
import { issueCertificate, signCertificate } from '../../../../agent/pki/sign.js'
import { IDENTITIES, node, openssl, startMs, testCa, testClock, withTempDir, writeFiles } from './fixtures.js'

// Every profile, issued for real and judged by OpenSSL and Node's own X.509 parser.

// The tests run on a manual clock; OpenSSL judges validity at the same instant.
const attime = Math.floor(startMs / 1000) + 60
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

interface Expected {
  cn: string
  o: string[]
  dns: string[]
  ips: string[]
}

const EXPECTED: Record<ProfileName, Expected> = {
  agent: {
    cn: node.nodeId,
    o: ['homecloud:nodes'],
    dns: [node.nodeName, node.nodeId.toLowerCase()],
    ips: ['10.77.0.2'],
  },
  'etcd-peer': {
    cn: node.nodeId,
    o: [],
    dns: [node.nodeName, node.nodeId.toLowerCase()],
    ips: ['10.77.0.2'],
  },
  'etcd-server': {
    cn: node.nodeId,
    o: [],
    dns: [node.nodeName, node.nodeId.toLowerCase(), 'localhost'],
    ips: ['10.77.0.2', '127.0.0.1'],
  },
  'etcd-client': { cn: node.nodeId, o: [], dns: [], ips: [] },
  'kube-apiserver': {
    cn: 'kube-apiserver',
    o: [],
    dns: [
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      node.nodeName,
      'localhost',
    ],
    ips: ['10.77.0.2', '10.96.0.1', '127.0.0.1'],
  },
  'kubelet-client': { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'], dns: [], ips: [] },
  'kubelet-serving': {
    cn: `system:node:${node.nodeName}`,
    o: ['system:nodes'],
    dns: [node.nodeName],
    ips: ['10.77.0.2'],
  },
  kubelet: { cn: `system:node:${node.nodeName}`, o: ['system:nodes'], dns: [], ips: [] },
  'controller-manager': { cn: 'system:kube-controller-manager', o: [], dns: [], ips: [] },
  scheduler: { cn: 'system:kube-scheduler', o: [], dns: [], ips: [] },
  admin: { cn: 'homecloud-admin', o: ['system:masters'], dns: [], ips: [] },
  kwok: { cn: `homecloud-kwok:${node.nodeName}`, o: ['homecloud:kwok'], dns: [], ips: [] },
}

function sanList(x509: X509Certificate): { dns: string[]; ips: string[] } {
  const parts = (x509.subjectAltName ?? '').split(', ').filter(Boolean)
  return {
    dns: parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4)),
    ips: parts.filter((p) => p.startsWith('IP Address:')).map((p) => p.slice(11)),
  }
}

describe('the cluster CA', () => {
  test('is a SHA-256 RSA 3072 CA that OpenSSL accepts', async () => {
    const ca = testCa()
    const x509 = new X509Certificate(ca.certPem)
    assert.equal(x509.ca, true)
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 3072)
    await withTempDir(async (dir) => {
      await writeFiles(dir, { 'ca.crt': ca.certPem })
      const text = await openssl(['x509', '-noout', '-text', '-in', 'ca.crt'], dir)
      assert.equal(text.exitCode, 0, text.all)
      assert.match(text.all!, /Signature Algorithm: sha256WithRSAEncryption/)
      assert.match(text.all!, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/)
      assert.match(text.all!, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/)
      assert.match(text.all!, /X509v3 Subject Key Identifier/)
      assert.match(text.all!, /OU = homecloud:cluster:c-test/)
      const self = await openssl(['verify', '-attime', String(attime), '-CAfile', 'ca.crt', 'ca.crt'], dir)
      assert.equal(self.exitCode, 0, self.all)
    })
  })
})

describe('every profile', () => {
  for (const profile of PROFILE_NAMES) {
    test(profile, async () => {
      const ca = testCa()
      const spec = PROFILES[profile]
      const want = EXPECTED[profile]
      const issued = issueCertificate({ ca, profile, identity: IDENTITIES[profile], clock: testClock() })
      const x509 = new X509Certificate(issued.certPem)
      assert.equal(issued.commonName, want.cn)
      assert.equal(x509.ca, false)
      assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
      assert.ok(x509.checkIssued(new X509Certificate(ca.certPem)))
      assert.equal(x509.serialNumber.toLowerCase(), issued.serial)
      assert.match(issued.serial, /^[1-7][0-9a-f]{31}$/)

      const subject = x509.subject.split('\n')
      assert.ok(subject.includes(`CN=${want.cn}`), x509.subject)
      assert.deepEqual(
        subject.filter((l) => l.startsWith('O=')).map((l) => l.slice(2)),
        want.o,
      )
      assert.ok(subject.includes(`OU=homecloud:${profile}`), x509.subject)

      const eku = x509.keyUsage ?? []
      assert.equal(eku.includes(SERVER_AUTH), spec.serverAuth, `serverAuth in ${eku}`)
      assert.equal(eku.includes(CLIENT_AUTH), spec.clientAuth, `clientAuth in ${eku}`)
      const sans = sanList(x509)
      assert.deepEqual(sans.dns.sort(), [...want.dns].sort())
      assert.deepEqual(sans.ips.sort(), [...want.ips].sort())

      await withTempDir(async (dir) => {
        await writeFiles(dir, { 'ca.crt': ca.certPem, 'leaf.crt': issued.certPem })
        const text = await openssl(['x509', '-noout', '-text', '-in', 'leaf.crt'], dir)
        assert.equal(text.exitCode, 0, text.all)
        const out = text.all!
        assert.match(out, /Signature Algorithm: sha256WithRSAEncryption/)
        assert.doesNotMatch(out, /sha1WithRSA/)
        assert.match(out, /X509v3 Basic Constraints: critical\s+CA:FALSE/)
        assert.match(out, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/)
        assert.match(out, /X509v3 Subject Key Identifier/)
        assert.match(out, /X509v3 Authority Key Identifier/)
        const ekuLine = out.match(/X509v3 Extended Key Usage:\s*\n\s*(.*)/)?.[1] ?? ''
        assert.equal(ekuLine.includes('TLS Web Server Authentication'), spec.serverAuth, ekuLine)
        assert.equal(ekuLine.includes('TLS Web Client Authentication'), spec.clientAuth, ekuLine)

        for (const [purpose, allowed] of [
          ['sslserver', spec.serverAuth],
          ['sslclient', spec.clientAuth],
        ] as const) {
          const verify = await openssl(
            ['verify', '-attime', String(attime), '-CAfile', 'ca.crt', '-purpose', purpose, 'leaf.crt'],
            dir,
          )
          assert.equal(verify.exitCode === 0, allowed, `${purpose}: ${verify.all}`)
          if (allowed) assert.match(verify.all!, /leaf\.crt: OK/)
        }
      })

      // The leaf's AKI is the CA's SKI, so chain building never guesses.
      const caText = new X509Certificate(ca.certPem)
      assert.ok(x509.verify(caText.publicKey))
    })
  }
})

describe('signCertificate', () => {
  test('a CSR made elsewhere gets the planned subject, never its own extras', () => {
    const { csrPem } = createCsr({ commonName: node.nodeId, organizations: ['homecloud:nodes'] })
    const issued = signCertificate({
      ca: testCa(),
      csrPem,
      profile: 'agent',
      identity: IDENTITIES.agent,
      clock: testClock(),
      validityMs: 3_600_000,
    })
    const x509 = new X509Certificate(issued.certPem)
    assert.equal(issued.notAfterMs - issued.notBeforeMs, 3_600_000 + 5 * 60_000)
    assert.equal(new Date(x509.validTo).getTime(), issued.notAfterMs)
  })

  test('a leaf never outlives its CA', () => {
    const clock = testClock()
    const issued = issueCertificate({
      ca: testCa(),
      profile: 'admin',
      identity: {},
      clock,
      validityMs: 20 * 365 * 86_400_000,
    })
    const caEnd = new Date(new X509Certificate(testCa().certPem).validTo).getTime()
    assert.equal(issued.notAfterMs, caEnd)
  })

  test('refusals are HomecloudErrors with the policy reason as cause', () => {
    const { csrPem } = createCsr({ commonName: 'someone-else' })
    assert.throws(
      () =>
        signCertificate({
          ca: testCa(),
          csrPem,
          profile: 'agent',
          identity: IDENTITIES.agent,
          clock: testClock(),
        }),
      (err: unknown) =>
        err instanceof HomecloudError &&
        err.code === 'PKI_CSR_MISMATCH' &&
        (err.cause as { reason: string }).reason === 'cn-mismatch',
    )
  })

  test('a CA key that does not match the CA certificate is refused', () => {
    const other = issueCertificate({ ca: testCa(), profile: 'admin', identity: {}, clock: testClock() })
    const { csrPem } = createCsr({ commonName: 'homecloud-admin' })
    assert.throws(
      () =>
        signCertificate({
          ca: { certPem: testCa().certPem, keyPem: other.keyPem },
          csrPem,
          profile: 'admin',
          identity: {},
          clock: testClock(),
        }),
      (err: unknown) => err instanceof HomecloudError && err.code === 'PKI_CERT_INVALID',
    )
  })
})
