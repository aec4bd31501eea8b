import forge from 'node-forge'
import type { Clock } from '../core/clock.js'
import { type CaMaterial, notBeforeBackdateMs } from './ca.js'
import { forgePublicKeyOf, randomSerialHex, signSha256 } from './keys.js'

// The certificate a CA-key holder shows etcd's JSON gateway once etcd's auth is on. etcd
// answers any gateway request whose client certificate carries a common name with 400
// (the gateway would drop the name, so etcd refuses rather than let it be mistaken for
// an identity): the gateway needs a certificate without one, and the caller logs in with
// a password (etcd/etcd-auth.ts). Such a certificate names nobody, so it grants nothing
// by itself: etcd knows the caller by its token, and the agent API (7443) refuses its
// profile. Made in memory by whoever holds the CA key; never requested, never written.
// The caller brings the key: an agent makes it off the event loop (generateRsaKeyPemAsync)
// — made in line, it blocked a newly promoted voter's loop ~0.7 s, three times.

export const GATEWAY_MARKER = 'homecloud:etcd-gateway'
export const gatewayValidityMs = 30 * 86_400_000

export function issueGatewayCertificate(
  ca: CaMaterial,
  clock: Pick<Clock, 'nowMs'>,
  keyPem: string,
  validityMs = gatewayValidityMs,
): { certPem: string; keyPem: string } {
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const now = clock.nowMs()
  const cert = forge.pki.createCertificate()
  cert.publicKey = forgePublicKeyOf(keyPem)
  cert.serialNumber = randomSerialHex()
  cert.validity.notBefore = new Date(Math.floor((now - notBeforeBackdateMs) / 1000) * 1000)
  cert.validity.notAfter = new Date(Math.min(now + validityMs, caCert.validity.notAfter.getTime()))
  cert.setSubject([{ shortName: 'OU', value: GATEWAY_MARKER }])
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ])
  signSha256(cert, ca.keyPem)
  return { certPem: forge.pki.certificateToPem(cert), keyPem }
}
