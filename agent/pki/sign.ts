import { createPublicKey, X509Certificate } from 'node:crypto'
import forge from 'node-forge'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { type CaMaterial, notBeforeBackdateMs } from './ca.js'
import { createCsr, parseCsr } from './csr.js'
import { leafKeyBits, randomSerialHex, signSha256 } from './keys.js'
import { checkSigningRequest, type IssuePlan, type SigningRequest } from './policy.js'
import { PROFILES, type ProfileName } from './profiles.js'

// The effectful half of signing: parse, ask the pure policy, then build exactly the
// planned certificate with the CA key.

export const leafValidityMsDefault = 365 * 86_400_000

export interface SignInit extends SigningRequest {
  ca: CaMaterial
  csrPem: string
  /** Lifetime from now; clamped so a leaf never outlives its CA. */
  validityMs?: number
  clock: Pick<Clock, 'nowMs'>
}

export interface IssuedCertificate {
  certPem: string
  serial: string
  profile: ProfileName
  commonName: string
  notBeforeMs: number
  notAfterMs: number
}

const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000

/** Signs a CSR under a profile; throws HomecloudError (PKI_CSR_*, PKI_FORBIDDEN_REQUEST, …). */
export function signCertificate(init: SignInit): IssuedCertificate {
  const csr = parseCsr(init.csrPem)
  const decision = checkSigningRequest(csr, init)
  if (!decision.ok) {
    throw new HomecloudError(
      decision.code,
      `certificate request refused: ${decision.message}`,
      'the requester must ask for its own identity only',
      { cause: decision },
    )
  }
  const caCert = forge.pki.certificateFromPem(init.ca.certPem)
  if (!new X509Certificate(init.ca.certPem).publicKey.equals(createPublicKey(init.ca.keyPem))) {
    throw new HomecloudError('PKI_CERT_INVALID', 'the CA key does not belong to the CA certificate')
  }

  const now = init.clock.nowMs()
  const caNotAfter = caCert.validity.notAfter.getTime()
  if (now >= caNotAfter) {
    throw new HomecloudError('PKI_EXPIRED', 'the cluster CA has expired', 'the cluster needs a new CA')
  }
  const notBeforeMs = wholeSeconds(now - notBeforeBackdateMs)
  const notAfterMs = wholeSeconds(Math.min(now + (init.validityMs ?? leafValidityMsDefault), caNotAfter))

  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.publicKeyFromPem(csr.publicKeyPem)
  cert.serialNumber = randomSerialHex()
  cert.validity.notBefore = new Date(notBeforeMs)
  cert.validity.notAfter = new Date(notAfterMs)
  cert.setSubject(subjectOf(decision.plan))
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions(extensionsOf(decision.plan, authorityKeyId(caCert)))
  signSha256(cert, init.ca.keyPem)
  return {
    certPem: forge.pki.certificateToPem(cert),
    serial: cert.serialNumber,
    profile: decision.plan.profile,
    commonName: decision.plan.commonName,
    notBeforeMs,
    notAfterMs,
  }
}

export interface IssueInit extends Omit<SignInit, 'csrPem'> {
  /** Reuse a key (renewal keeps or rotates it as the caller likes); new RSA key when absent. */
  keyPem?: string
  keyBits?: number
}

/** For a node that holds the CA itself: make the key and CSR locally and sign them. */
export function issueCertificate(init: IssueInit): IssuedCertificate & { keyPem: string } {
  const commonName = init.subject?.commonName ?? PROFILES[init.profile].commonName(init.identity)
  if (!commonName) {
    throw new HomecloudError(
      'PKI_REQUEST_INVALID',
      `${init.profile} needs ${PROFILES[init.profile].needs.join(', ')}`,
    )
  }
  const { csrPem, keyPem } = createCsr({
    commonName,
    keyPem: init.keyPem,
    keyBits: init.keyBits ?? leafKeyBits,
  })
  return { ...signCertificate({ ...init, csrPem }), keyPem }
}

function subjectOf(plan: IssuePlan): forge.pki.CertificateField[] {
  return [
    ...plan.organizations.map((value) => ({ shortName: 'O', value })),
    { shortName: 'OU', value: plan.organizationalUnit },
    { shortName: 'CN', value: plan.commonName },
  ]
}

function authorityKeyId(caCert: forge.pki.Certificate): string {
  const ski = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null
  return ski?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
    : caCert.generateSubjectKeyIdentifier().getBytes()
}

function extensionsOf(plan: IssuePlan, authorityKeyIdBytes: string): object[] {
  const altNames = [
    ...plan.dnsNames.map((value) => ({ type: 2, value })),
    ...plan.ips.map((ip) => ({ type: 7, ip })),
  ]
  return [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: plan.serverAuth, clientAuth: plan.clientAuth },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyIdBytes },
  ]
}
