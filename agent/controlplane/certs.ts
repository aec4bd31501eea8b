import type { Clock } from '../core/clock.js'
import type { CaMaterial } from '../pki/ca.js'
import { verifyCertificate } from '../pki/cert.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import type { ProfileName } from '../pki/profiles.js'
import { issueCertificate } from '../pki/sign.js'
import { pkiPaths, writeCertAndKey, writeCertFile } from '../pki/store.js'

// The three certificates an etcd member needs, made by a signer for one node. Keys are
// generated off the event loop: three 2048-bit RSA keys take a second or more on a
// small board, and a blocked loop would miss mesh heartbeats.

export type EtcdProfile = 'etcd-peer' | 'etcd-server' | 'etcd-client'
export const ETCD_PROFILES: readonly EtcdProfile[] = ['etcd-peer', 'etcd-server', 'etcd-client']

export interface CertKey {
  certPem: string
  keyPem: string
}
export type EtcdCerts = Record<EtcdProfile, CertKey>

/**
 * On loopback the kernel dials peers from 127.0.0.1 whatever address the listener has,
 * and etcd checks a peer's source address against its certificate's IP SANs: peers on
 * a loopback lab carry 127.0.0.1 too. Boards dial from their own address.
 */
export function needsLoopbackSan(address: string): boolean {
  return address.startsWith('127.')
}

export async function issueEtcdCerts(init: {
  ca: CaMaterial
  nodeId: string
  address: string
  clock: Pick<Clock, 'nowMs'>
}): Promise<EtcdCerts> {
  const keys = await Promise.all(ETCD_PROFILES.map(() => generateRsaKeyPemAsync()))
  const out: Partial<EtcdCerts> = {}
  for (const [i, profile] of ETCD_PROFILES.entries()) {
    const issued = issueCertificate({
      ca: init.ca,
      profile,
      identity: {
        nodeId: init.nodeId,
        ips: [init.address],
        localhost: profile === 'etcd-peer' && needsLoopbackSan(init.address),
      },
      keyPem: keys[i]!,
      clock: init.clock,
    })
    out[profile] = { certPem: issued.certPem, keyPem: issued.keyPem }
  }
  return out as EtcdCerts
}

/** Why these are not this node's etcd certificates from this CA, or null when they are. */
export function checkEtcdCerts(
  certs: EtcdCerts,
  caPem: string,
  nodeId: string,
  nowMs: number,
): string | null {
  for (const profile of ETCD_PROFILES) {
    const v = verifyCertificate(certs[profile].certPem, caPem, { nowMs })
    if (!v.ok) return `${profile}: ${v.message}`
    if (v.commonName !== nodeId) return `${profile}: issued to ${v.commonName}, not ${nodeId}`
    if (v.profile !== profile) return `${profile}: the certificate is a ${v.profile} certificate`
  }
  return null
}

export async function writeEtcdCerts(stateDir: string, certs: EtcdCerts, caPem: string): Promise<void> {
  const pki = pkiPaths(stateDir)
  await writeCertFile(pki.caCert, caPem)
  for (const profile of ETCD_PROFILES)
    await writeCertAndKey(pki.profile(profile as ProfileName), certs[profile])
}
