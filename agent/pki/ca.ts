import forge from 'node-forge'
import type { Clock } from '../core/clock.js'
import { caKeyBits, forgePublicKeyOf, generateRsaKeyPem, randomSerialHex, signSha256 } from './keys.js'

// The cluster CA: made once by the founding node, RSA (forge's X.509 knows nothing
// else), always SHA-256 (forge defaults to SHA-1, which etcd refuses).

export interface CaMaterial {
  certPem: string
  keyPem: string
}

export const caValidityDaysDefault = 3650
/** Certificates start a little in the past so small clock differences between boards do not reject them. */
export const notBeforeBackdateMs = 5 * 60_000
const dayMs = 86_400_000

export interface CaInit {
  clusterId: string
  clusterName: string
  validityDays?: number
  clock: Pick<Clock, 'nowMs'>
  keyBits?: number
}

export const caOrganization = 'homecloud'
const clusterUnitPrefix = 'homecloud:cluster:'

export function createCa(init: CaInit): CaMaterial {
  const keyPem = generateRsaKeyPem(init.keyBits ?? caKeyBits)
  const now = init.clock.nowMs()
  const cert = forge.pki.createCertificate()
  cert.publicKey = forgePublicKeyOf(keyPem)
  cert.serialNumber = randomSerialHex()
  cert.validity.notBefore = new Date(now - notBeforeBackdateMs)
  cert.validity.notAfter = new Date(now + (init.validityDays ?? caValidityDaysDefault) * dayMs)
  const subject = [
    { shortName: 'O', value: caOrganization },
    { shortName: 'OU', value: clusterUnitPrefix + init.clusterId },
    { shortName: 'CN', value: `homecloud CA ${init.clusterName}` },
  ]
  cert.setSubject(subject)
  cert.setIssuer(subject)
  cert.setExtensions([
    // pathLen 0: the CA signs leaves only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ])
  signSha256(cert, keyPem)
  return { certPem: forge.pki.certificateToPem(cert), keyPem }
}

/** The cluster id a CA certificate was made for (from its OU), if it is one of ours. */
export function caClusterId(caPem: string): string | undefined {
  const cert = forge.pki.certificateFromPem(caPem)
  const unit = cert.subject.attributes.find(
    (a) => a.shortName === 'OU' && String(a.value).startsWith(clusterUnitPrefix),
  )
  return unit ? String(unit.value).slice(clusterUnitPrefix.length) : undefined
}
