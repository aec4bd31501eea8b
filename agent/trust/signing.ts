import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { CaMaterial } from '../pki/ca.js'
import { readCertificate } from '../pki/cert.js'
import { parseCsr } from '../pki/csr.js'
import { issueCertificate, signCertificate } from '../pki/sign.js'
import type { IssueRequest } from './signer.js'

// The signer's hands: what it does with the CA key once signer.ts decided. Kept apart
// from the decision so that is a pure function; the same code issues for a peer and,
// without any message, for this node itself.

export interface IssueContext {
  ca: CaMaterial
  clock: Pick<Clock, 'nowMs'>
  validityMs: number
  /** Ids, names and addresses of every other member: no certificate may name them. */
  reservedNames: readonly string[]
  /** The requester's addresses from its signed record (or its connection), never from the request. */
  addresses: readonly string[]
}

export type IssueOutcome = { ok: true; certPem: string; serial: string } | { ok: false; message: string }

/** Signs a peer's CSR for what signer.ts decided it may have; a CSR the policy refuses is a failure, not a throw. */
export function issueFor(r: IssueRequest, x: IssueContext): IssueOutcome {
  const profile = r.purpose === 'join' || r.purpose === 'renew' ? 'agent' : r.purpose
  try {
    const cert = signCertificate({
      profile,
      identity: { nodeId: r.nodeId, nodeName: r.name, ips: [...x.addresses] },
      reservedNames: x.reservedNames,
      csrPem: r.csrPem,
      ca: x.ca,
      clock: x.clock,
      validityMs: x.validityMs,
    })
    return { ok: true, certPem: cert.certPem, serial: cert.serial }
  } catch (err) {
    const code = err instanceof HomecloudError ? `${err.code}: ` : ''
    return { ok: false, message: `${code}${(err as Error).message}` }
  }
}

/** This node's own certificate (agent, or a Kubernetes profile) from its own CA key: no request travels. */
export function issueOwn(
  profile: 'agent' | IssueRequest['purpose'],
  self: { nodeId: string; nodeName: string; host: string },
  keyPem: string,
  x: Pick<IssueContext, 'ca' | 'clock' | 'validityMs'>,
): { certPem: string; keyPem: string } {
  const issued = issueCertificate({
    profile: profile === 'join' || profile === 'renew' ? 'agent' : profile,
    identity: { nodeId: self.nodeId, nodeName: self.nodeName, ips: [self.host] },
    ca: x.ca,
    keyPem,
    clock: x.clock,
    validityMs: x.validityMs,
  })
  return { certPem: issued.certPem, keyPem }
}

/** Is this certificate, signed by our CA, for the key we made and the subject we expect? */
export function certIsOurs(
  certPem: string,
  caPem: string | null,
  keyPem: string,
  want: { commonName: string; profile?: string },
): boolean {
  if (!caPem) return false
  try {
    const cert = new X509Certificate(certPem)
    const info = readCertificate(certPem)
    return (
      cert.verify(new X509Certificate(caPem).publicKey) &&
      cert.publicKey.equals(createPublicKey(createPrivateKey(keyPem))) &&
      info.commonName === want.commonName &&
      (want.profile === undefined || info.profile === want.profile)
    )
  } catch {
    return false
  }
}

/** Is this certificate for the key of this CSR (the same join asked again, of any signer)? */
export function certForCsrKey(certPem: string, csrPem: string): boolean {
  try {
    return new X509Certificate(certPem).publicKey.equals(createPublicKey(parseCsr(csrPem).publicKeyPem))
  } catch {
    return false
  }
}

/** Does this private key belong to this CA certificate? */
export function caKeyMatches(caPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(caPem).publicKey.equals(createPublicKey(createPrivateKey(keyPem)))
  } catch {
    return false
  }
}
