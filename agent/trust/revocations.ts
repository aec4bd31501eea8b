import type { PeerConn } from '../mesh/swarm.js'
import { normalizeSerial } from '../pki/keys.js'
import {
  mergeRevocations,
  nextRevocations,
  type RevocationBody,
  type RevocationEntry,
  type RevocationList,
} from '../pki/revocations.js'
import { type CommonEffect, log, type Step } from './effects.js'
import { revocationMessages } from './revocation-pages.js'

// Revocation everywhere: one CA-signed list, every version carrying every earlier entry,
// gossiped to every node and handed to every new connection. Several signers may issue
// at once; the lists still converge to one:
// - every node keeps the winner of a total order (version, entry count, signature) and
//   refuses the nodes of every verified list it has seen (the book's union), so a lost
//   race never un-revokes anyone, not even for a moment;
// - a signer holding two lists neither of which contains the other issues their union
//   at the next version. Signing is deterministic (RSA PKCS#1 v1.5) and the body is a
//   sorted union, so two signers repairing the same race issue byte-identical lists.
//
//   received(verified) ─▶ revoke its entries (book) ─▶ winner changed? adopt: save, pass on
//                                                  └─▶ signer, entries lost in the race? sign the union
//   revoke(admin, signer) ─▶ sign next version ─▶ issued ─▶ as received

export interface RevocationsState {
  readonly clusterId: string
  readonly list: RevocationList | undefined
}

export type RevocationsEvent =
  | { kind: 'received'; list: RevocationList; signer: boolean; from?: string }
  /** A list this node just signed (an admin's revocation or a repair). */
  | { kind: 'issued'; list: RevocationList }
  | { kind: 'revoke'; entry: RevocationEntry; name: string }
  | { kind: 'connected'; conn: PeerConn }

export type RevocationsEffect =
  | CommonEffect
  /** Refuse this list's nodes from now on (book union); the shell cuts the newly revoked. */
  | { kind: 'apply'; list: RevocationList }
  | { kind: 'save'; list: RevocationList }
  | { kind: 'sign'; body: RevocationBody }

export function revocationsStart(clusterId: string, list: RevocationList | undefined): RevocationsState {
  return { clusterId, list }
}

export function revocationsStep(
  s: RevocationsState,
  e: RevocationsEvent,
): Step<RevocationsState, RevocationsEffect> {
  switch (e.kind) {
    case 'connected':
      return {
        state: s,
        effects: s.list
          ? revocationMessages(s.list).map((msg) => ({ kind: 'send', conn: e.conn, msg }) as const)
          : [],
      }
    case 'revoke': {
      const body = nextRevocations(s.clusterId, [s.list], [e.entry])
      return {
        state: s,
        effects: [
          { kind: 'sign', body },
          {
            kind: 'event',
            event: {
              kind: 'revoked',
              id: e.entry.nodeId,
              name: e.name,
              message: `${e.name} revoked: ${e.entry.reason}`,
            },
          },
        ],
      }
    }
    case 'issued':
      return adopt(s, e.list, false)
    case 'received':
      return adopt(s, e.list, e.signer)
  }
}

function adopt(
  s: RevocationsState,
  list: RevocationList,
  signer: boolean,
): Step<RevocationsState, RevocationsEffect> {
  if (list.clusterId !== s.clusterId) return { state: s, effects: [] }
  const winner = mergeRevocations(s.list, list)
  const effects: RevocationsEffect[] = [{ kind: 'apply', list }]
  let state = s
  if (winner !== s.list && winner) {
    state = { ...s, list: winner }
    // Pass it on: nodes that were offline get it from whoever they meet first.
    effects.push(
      { kind: 'save', list: winner },
      ...revocationMessages(winner).map((msg) => ({ kind: 'broadcast', msg }) as const),
    )
  }
  if (signer && lostEntries(s.list, list, winner)) {
    effects.push(
      log('info', 'two revocation lists raced to one version: issuing their union', {
        versions: [s.list?.version, list.version],
      }),
      { kind: 'sign', body: nextRevocations(s.clusterId, [s.list, list]) },
    )
  }
  return { state, effects }
}

/**
 * The entry that revokes `nodeId`: the serial of its certificate when the revoking signer
 * holds it, else the node id itself as a placeholder serial (hex, like every serial).
 * Lists keep one entry per serial, so one shared placeholder ('0', as before) made a
 * second revocation of a not-yet-certified node replace the first: that node could then
 * be signed and admitted (found by the simulator, seeds 85 and 227). Nodes are refused by
 * id as well as by serial, so the placeholder refuses a certificate signed later too.
 */
export function revocationEntry(
  certSerial: string | undefined,
  nodeId: string,
  revokedAtMs: number,
  reason: string,
): RevocationEntry {
  return { serial: certSerial ?? nodeId, nodeId, revokedAtMs, reason }
}

/** Entries of `a` or `b` that the winner lacks (the loser of a same-version race). */
export function lostEntries(
  a: RevocationList | undefined,
  b: RevocationList | undefined,
  winner: RevocationList | undefined,
): boolean {
  const kept = new Set((winner?.entries ?? []).map(key))
  return [...(a?.entries ?? []), ...(b?.entries ?? [])].some((e) => !kept.has(key(e)))
}

/** Lists hold one entry per serial (normalizeEntries). */
const key = (e: RevocationEntry) => normalizeSerial(e.serial)
