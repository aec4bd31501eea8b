import type { ConnectionOptions, TlsOptions } from 'node:tls'
import {
  checkServerIdentity as defaultCheckServerIdentity,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls'
import { type CertFailure, type CertInfo, readCertificate, verifyCertificate } from './cert.js'
import type { ProfileName } from './profiles.js'

// Node TLS settings for agent-to-agent mutual TLS, and reading who is on the other end.
// Node checks the chain and validity during the handshake; revocation and profile are
// ours to check once the connection is up (checkPeer), before any request is served.

export interface TlsMaterial {
  caPem: string
  certPem: string
  keyPem: string
}

export const tlsMinVersion = 'TLSv1.2'

export function tlsServerOptions(m: TlsMaterial): TlsOptions {
  return {
    ca: m.caPem,
    cert: m.certPem,
    key: m.keyPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: tlsMinVersion,
  }
}

export interface ClientTlsInit {
  /** SNI / hostname to check; when dialing an IP, Node checks the IP SANs instead. */
  servername?: string
  /** Also require the server's CN (e.g. the node id we meant to reach). */
  expectedCommonName?: string
}

export function tlsClientOptions(m: TlsMaterial, init: ClientTlsInit = {}): ConnectionOptions {
  const expected = init.expectedCommonName
  return {
    ca: m.caPem,
    cert: m.certPem,
    key: m.keyPem,
    rejectUnauthorized: true,
    minVersion: tlsMinVersion,
    ...(init.servername ? { servername: init.servername } : {}),
    checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
      const err = defaultCheckServerIdentity(host, cert)
      if (err) return err
      if (expected !== undefined && cert.subject?.CN !== expected) {
        return new Error(`server is ${String(cert.subject?.CN)}, expected ${expected}`)
      }
      return undefined
    },
  }
}

export type PeerIdentity = CertInfo & { certPem: string }

/** The verified peer's certificate fields, or undefined when it presented none. */
export function peerIdentity(socket: TLSSocket): PeerIdentity | undefined {
  const x509 = socket.getPeerX509Certificate()
  if (!x509) return undefined
  const certPem = x509.toString()
  return { ...readCertificate(certPem), certPem }
}

export type PeerCheck =
  | ({ ok: true } & PeerIdentity)
  | CertFailure
  | { ok: false; reason: 'no-certificate' | 'wrong-profile'; message: string; commonName?: string }

export interface PeerCheckInit {
  caPem: string
  nowMs: number
  revoked?: Iterable<string>
  /** Profiles allowed on this endpoint (e.g. ['agent', 'admin'] for 7443). */
  profiles?: readonly ProfileName[]
}

/** Full check of a connected peer: chain, validity, revocation, profile. */
export function checkPeer(socket: TLSSocket, init: PeerCheckInit): PeerCheck {
  const x509 = socket.getPeerX509Certificate()
  if (!x509) return { ok: false, reason: 'no-certificate', message: 'the peer presented no certificate' }
  const certPem = x509.toString()
  const verdict = verifyCertificate(certPem, init.caPem, { nowMs: init.nowMs, revoked: init.revoked })
  if (!verdict.ok) return verdict
  if (init.profiles && !init.profiles.includes(verdict.profile as ProfileName)) {
    return {
      ok: false,
      reason: 'wrong-profile',
      message: `a ${verdict.profile} certificate may not be used here`,
      commonName: verdict.commonName,
    }
  }
  return { ...verdict, certPem }
}
