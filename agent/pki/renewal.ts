import { readCertificate } from './cert.js'

// When to renew: after two thirds of the lifetime, leaving a third for retries while the
// signer (a control-plane node) may be unreachable.

export const renewalFraction = 2 / 3

export function renewalDueAt(notBeforeMs: number, notAfterMs: number): number {
  return notBeforeMs + Math.floor((notAfterMs - notBeforeMs) * renewalFraction)
}

export type Validity = { notBeforeMs: number; notAfterMs: number }

/** `cert` is a PEM certificate or its validity window. */
export function needsRenewal(cert: string | Validity, nowMs: number): boolean {
  const { notBeforeMs, notAfterMs } = typeof cert === 'string' ? readCertificate(cert) : cert
  return nowMs >= renewalDueAt(notBeforeMs, notAfterMs)
}
