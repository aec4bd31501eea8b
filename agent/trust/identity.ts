import type { PeerConn } from '../mesh/swarm.js'
import { needsRenewal, type Validity } from '../pki/renewal.js'
import { type CommonEffect, count, log, type Step } from './effects.js'
import type { NodeProfile } from './node-profile.js'

// This node's identity once it is a member: its agent certificate, renewed at two
// thirds of its lifetime, and its Kubernetes node certificates, asked for over the mesh.
// Pure; the shell makes keys and CSRs, verifies what comes back and keeps the promises.
//
//   member ──tick, renewal due──▶ signer?  self-renew (its own signer logic, no message)
//                               └ no ──▶ renewing: ask-renewal every tick ──renewed (ours)──▶ adopt
//   adopted ──▶ member with the new validity
//   node-cert: asked ──node-cert (ours)──▶ resolve │ ──refused (final)──▶ reject │ ──timeout──▶ reject

export interface IdentityState {
  /** Our agent certificate's validity; null until we joined. */
  readonly cert: (Validity & { serial: string }) | null
  /** A renewal request is out (a non-signer waits for a signer). */
  readonly renewing: boolean
  /** Kubernetes identities we asked for and wait on. */
  readonly waits: ReadonlySet<NodeProfile>
}

export type IdentityEvent =
  | { kind: 'tick'; signer: boolean }
  /** A renewal reply, verified by the shell: our id, the agent profile, the key of our CSR. */
  | { kind: 'renewed'; conn: PeerConn; certPem: string; ours: boolean }
  | { kind: 'renew-refused'; from: string; reason: string; message: string }
  | { kind: 'adopted'; cert: Validity & { serial: string } }
  | { kind: 'node-cert-asked'; profile: NodeProfile }
  /** Verified by the shell: signed by our CA, for the key we made, under our own name. */
  | { kind: 'node-cert'; profile: NodeProfile; certPem: string; ours: boolean }
  | { kind: 'node-cert-refused'; profile: NodeProfile; reason: string; message: string }
  | { kind: 'node-cert-timeout'; profile: NodeProfile }

export type IdentityEffect =
  | CommonEffect
  | { kind: 'self-renew' }
  /** Ask every connected peer with our pending renewal CSR (made once per renewal). */
  | { kind: 'ask-renewal' }
  | { kind: 'adopt'; certPem: string }
  | { kind: 'ask-node-cert'; profile: NodeProfile }
  | { kind: 'resolve-node-cert'; profile: NodeProfile; certPem: string }
  | { kind: 'reject-node-cert'; profile: NodeProfile; reason: string; message: string }

export function identityStart(cert: IdentityState['cert']): IdentityState {
  return { cert, renewing: false, waits: new Set() }
}

export function identityStep(
  s: IdentityState,
  e: IdentityEvent,
  nowMs: number,
): Step<IdentityState, IdentityEffect> {
  switch (e.kind) {
    case 'tick':
      if (!s.cert || !needsRenewal(s.cert, nowMs)) return { state: s, effects: [] }
      if (e.signer) return { state: s, effects: [{ kind: 'self-renew' }] }
      return { state: { ...s, renewing: true }, effects: [{ kind: 'ask-renewal' }] }
    case 'renewed':
      // Two signers may both answer: the first one we adopt ends the renewal.
      if (!s.renewing || !e.ours) return { state: s, effects: [] }
      return { state: s, effects: [{ kind: 'adopt', certPem: e.certPem }] }
    case 'renew-refused':
      return {
        state: s,
        effects: [
          count('homecloud_join_refused_total', { reason: e.reason }),
          log('warn', `renewal refused: ${e.message}`, { from: e.from, reason: e.reason }),
        ],
      }
    case 'adopted':
      return { state: { ...s, cert: e.cert, renewing: false }, effects: [] }
    case 'node-cert-asked':
      return {
        state: { ...s, waits: with_(s.waits, e.profile) },
        effects: [{ kind: 'ask-node-cert', profile: e.profile }],
      }
    case 'node-cert':
      if (!s.waits.has(e.profile) || !e.ours) return { state: s, effects: [] }
      return {
        state: { ...s, waits: without(s.waits, e.profile) },
        effects: [{ kind: 'resolve-node-cert', profile: e.profile, certPem: e.certPem }],
      }
    case 'node-cert-refused':
      // The signer may not know our record yet: only a refusal about the request itself is final.
      if (!s.waits.has(e.profile) || e.reason === 'unknown-node') return { state: s, effects: [] }
      return {
        state: { ...s, waits: without(s.waits, e.profile) },
        effects: [{ kind: 'reject-node-cert', profile: e.profile, reason: e.reason, message: e.message }],
      }
    case 'node-cert-timeout':
      if (!s.waits.has(e.profile)) return { state: s, effects: [] }
      return {
        state: { ...s, waits: without(s.waits, e.profile) },
        effects: [
          {
            kind: 'reject-node-cert',
            profile: e.profile,
            reason: 'no-answer',
            message: `no signer answered a ${e.profile} certificate request`,
          },
        ],
      }
  }
}

function with_<T>(set: ReadonlySet<T>, v: T): ReadonlySet<T> {
  return new Set([...set, v])
}

function without<T>(set: ReadonlySet<T>, v: T): ReadonlySet<T> {
  const next = new Set(set)
  next.delete(v)
  return next
}
