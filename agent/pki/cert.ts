import { X509Certificate } from 'node:crypto'
import forge from 'node-forge'
import { type ErrorCode, HomecloudError } from '../core/errors.js'
import { normalizeSerial } from './keys.js'
import { canonicalIp } from './names.js'
import { guessProfile, type ProfileName, profileFromMarker } from './profiles.js'

// Reading and verifying certificates. Node's native X509Certificate checks issuer and
// signature (it handles any key type, so a foreign EC certificate is "wrong-ca", not a
// crash); forge then reads the fields of a certificate already known to be ours.

export const certPemCharsMax = 65_536

export interface CertInfo {
  commonName: string
  organizations: string[]
  serial: string
  notBeforeMs: number
  notAfterMs: number
  dnsNames: string[]
  ips: string[]
  serverAuth: boolean
  clientAuth: boolean
  isCa: boolean
  profile: ProfileName | 'unknown'
}

/** Fields of a PEM certificate (RSA, as all of ours are); throws PKI_CERT_INVALID if unreadable. */
export function readCertificate(certPem: string): CertInfo {
  let cert: forge.pki.Certificate
  try {
    cert = forge.pki.certificateFromPem(certPem)
  } catch (err) {
    throw new HomecloudError(
      'PKI_CERT_INVALID',
      `certificate unreadable: ${(err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    )
  }
  const attrs = cert.subject.attributes
  const values = (short: string) => attrs.filter((a) => a.shortName === short).map((a) => String(a.value))
  const commonName = values('CN')[0] ?? ''
  const organizations = values('O')
  const eku = (cert.getExtension('extKeyUsage') ?? {}) as { serverAuth?: boolean; clientAuth?: boolean }
  const basic = cert.getExtension('basicConstraints') as { cA?: boolean } | null
  const san = cert.getExtension('subjectAltName') as {
    altNames?: { type: number; value: string; ip?: string }[]
  } | null
  const alts = san?.altNames ?? []
  const serverAuth = eku.serverAuth === true
  const clientAuth = eku.clientAuth === true
  const marked = values('OU')
    .map(profileFromMarker)
    .find((p) => p !== undefined)
  return {
    commonName,
    organizations,
    serial: normalizeSerial(cert.serialNumber),
    notBeforeMs: cert.validity.notBefore.getTime(),
    notAfterMs: cert.validity.notAfter.getTime(),
    dnsNames: alts.filter((a) => a.type === 2).map((a) => a.value),
    ips: alts.filter((a) => a.type === 7).map((a) => canonicalIp(a.ip ?? '') ?? String(a.ip)),
    serverAuth,
    clientAuth,
    isCa: basic?.cA === true,
    profile: marked ?? guessProfile({ commonName, organizations, serverAuth, clientAuth }),
  }
}

export type CertFailureReason =
  | 'malformed'
  | 'wrong-ca'
  | 'bad-signature'
  | 'revoked'
  | 'not-yet-valid'
  | 'expired'

export interface CertFailure {
  ok: false
  reason: CertFailureReason
  message: string
  /** Known once the certificate was readable and ours (for logs and events). */
  serial?: string
  commonName?: string
}

export type CertVerification = ({ ok: true } & CertInfo) | CertFailure

export interface VerifyOptions {
  nowMs: number
  /** Revoked serials (any case; see revokedSerials() for a signed list). */
  revoked?: Iterable<string>
}

export function verifyCertificate(certPem: string, caPem: string, opts: VerifyOptions): CertVerification {
  const ca = new X509Certificate(caPem)
  let x509: X509Certificate
  try {
    if (typeof certPem !== 'string' || certPem.length > certPemCharsMax || !certPem.includes('-----BEGIN')) {
      throw new Error('not a PEM certificate')
    }
    x509 = new X509Certificate(certPem)
  } catch (err) {
    return { ok: false, reason: 'malformed', message: `certificate unreadable: ${(err as Error).message}` }
  }
  if (!x509.checkIssued(ca)) {
    return {
      ok: false,
      reason: 'wrong-ca',
      message: `issued by ${oneLine(x509.issuer)}, not this cluster's CA`,
    }
  }
  if (!x509.verify(ca.publicKey)) {
    return { ok: false, reason: 'bad-signature', message: 'the CA signature does not match the certificate' }
  }
  let info: CertInfo
  try {
    info = readCertificate(certPem)
  } catch (err) {
    return { ok: false, reason: 'malformed', message: (err as Error).message }
  }
  const who = { serial: info.serial, commonName: info.commonName }
  const revoked = new Set([...(opts.revoked ?? [])].map(normalizeSerial))
  if (revoked.has(info.serial)) {
    return { ok: false, reason: 'revoked', message: `certificate ${info.serial} was revoked`, ...who }
  }
  if (opts.nowMs < info.notBeforeMs) {
    return { ok: false, reason: 'not-yet-valid', message: `valid from ${iso(info.notBeforeMs)}`, ...who }
  }
  if (opts.nowMs > info.notAfterMs) {
    return { ok: false, reason: 'expired', message: `expired at ${iso(info.notAfterMs)}`, ...who }
  }
  return { ok: true, ...info }
}

/** The catalogue code for a failed verification, for callers that throw. */
export function certFailureCode(reason: CertFailureReason): ErrorCode {
  if (reason === 'revoked') return 'PKI_REVOKED'
  if (reason === 'expired') return 'PKI_EXPIRED'
  return 'PKI_CERT_INVALID'
}

export function certFailureError(failure: CertFailure): HomecloudError {
  return new HomecloudError(
    certFailureCode(failure.reason),
    `certificate ${failure.reason}: ${failure.message}`,
  )
}

const iso = (ms: number) => new Date(ms).toISOString()
const oneLine = (name: string) => name.replace(/\n/g, ', ')
