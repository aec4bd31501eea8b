import forge from 'node-forge'
import { HomecloudError } from '../core/errors.js'
import { forgePublicKeyOf, generateRsaKeyPem, leafKeyBits, signSha256 } from './keys.js'
import { canonicalIp } from './names.js'

// Certificate signing requests: a joiner makes one with its own key, the signer parses
// it and checks its self-signature before any policy looks at it.

export const csrPemCharsMax = 16_384

export interface CsrInit {
  commonName: string
  organizations?: readonly string[]
  /** Reuse this key (PKCS#8 or PKCS#1 PEM); a new RSA key is made when absent. */
  keyPem?: string
  keyBits?: number
}

export function createCsr(init: CsrInit): { csrPem: string; keyPem: string } {
  const keyPem = init.keyPem ?? generateRsaKeyPem(init.keyBits ?? leafKeyBits)
  const csr = forge.pki.createCertificationRequest()
  csr.publicKey = forgePublicKeyOf(keyPem)
  csr.setSubject([
    ...(init.organizations ?? []).map((value) => ({ shortName: 'O', value })),
    { shortName: 'CN', value: init.commonName },
  ])
  signSha256(csr, keyPem)
  return { csrPem: forge.pki.certificationRequestToPem(csr), keyPem }
}

/** What a CSR asks for, after its signature checked out. */
export interface ParsedCsr {
  commonName: string
  organizations: string[]
  /** SANs asked for in an extensionRequest (we never copy them; policy only checks them). */
  dnsNames: string[]
  ips: string[]
  /** basicConstraints CA:true, or keyCertSign/cRLSign, was asked for. */
  requestsCa: boolean
  keyBits: number
  publicKeyPem: string
}

function invalid(message: string, cause?: unknown): HomecloudError {
  return new HomecloudError(
    'PKI_CSR_INVALID',
    message,
    'create the request again with `createCsr` (RSA key, SHA-256)',
    cause === undefined ? undefined : { cause },
  )
}

interface ForgeExtension {
  name?: string
  cA?: boolean
  keyCertSign?: boolean
  cRLSign?: boolean
  altNames?: { type: number; value: string; ip?: string }[]
}

/** Parses and verifies a CSR; throws PKI_CSR_INVALID on anything unreadable or forged. */
export function parseCsr(csrPem: string): ParsedCsr {
  if (typeof csrPem !== 'string' || csrPem.length > csrPemCharsMax) throw invalid('CSR missing or too large')
  let csr: forge.pki.CertificateSigningRequest
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem, true)
  } catch (err) {
    throw invalid(`CSR unreadable: ${(err as Error).message}`, err)
  }
  let signed = false
  try {
    signed = csr.verify()
  } catch (err) {
    throw invalid(`CSR signature unverifiable: ${(err as Error).message}`, err)
  }
  if (!signed) throw invalid('CSR self-signature does not verify')

  const attrs = csr.subject.attributes
  const cns = attrs.filter((a) => a.shortName === 'CN')
  if (cns.length !== 1) throw invalid(`CSR must carry exactly one CN (found ${cns.length})`)
  const organizations = attrs.filter((a) => a.shortName === 'O').map((a) => String(a.value))

  const dnsNames: string[] = []
  const ips: string[] = []
  let requestsCa = false
  const request = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: ForgeExtension[] } | null
  for (const ext of request?.extensions ?? []) {
    if (ext.name === 'basicConstraints' && ext.cA) requestsCa = true
    if (ext.name === 'keyUsage' && (ext.keyCertSign || ext.cRLSign)) requestsCa = true
    if (ext.name === 'subjectAltName') {
      for (const alt of ext.altNames ?? []) {
        if (alt.type === 2) dnsNames.push(alt.value)
        else if (alt.type === 7) ips.push(canonicalIp(alt.ip ?? '') ?? `invalid:${alt.ip ?? ''}`)
        // Other name types (email, URI) we never grant; surface them so policy refuses.
        else dnsNames.push(`unsupported-san-type-${alt.type}:${alt.value}`)
      }
    }
  }
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null
  if (!publicKey?.n) throw invalid('CSR public key is not RSA')
  return {
    commonName: String(cns[0]!.value),
    organizations,
    dnsNames,
    ips,
    requestsCa,
    keyBits: publicKey.n.bitLength(),
    publicKeyPem: forge.pki.publicKeyToPem(publicKey),
  }
}
