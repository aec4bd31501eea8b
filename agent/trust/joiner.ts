import type { PeerConn } from '../mesh/swarm.js'
import type { ClusterSettings } from '../state/cluster-file.js'
import { type CommonEffect, count, log, type Step } from './effects.js'

// The joiner: a node with join material and no certificate. It asks every peer it is
// connected to (only signers answer) on each new connection and every retry period,
// until one signs. Pure: the shell checks the reply's proof and certificate and says
// what it found; this decides.
//
//   joining ──join-pending──▶ pending
//      │                        │
//      └──join-signed (proven)──┴──▶ adopt ──adopted──▶ member (done; identity.ts takes over)

export type JoinerStatus = 'joining' | 'pending' | 'member'

export interface JoinerState {
  readonly status: JoinerStatus
  /** Our short code, from our key: shown on this console and beside our pending entry everywhere. */
  readonly code: string
  readonly nodeName: string
}

/** What the shell verified about a `join-signed` reply. */
export interface SignedReply {
  conn: PeerConn
  /** The reply's MAC verified with the join secret for this very connection. */
  proofOk: boolean
  /** The settings name our cluster. */
  clusterMatches: boolean
  /** The certificate parsed, and is an agent certificate for our own id. */
  certForUs: boolean
  certPem: string
  caPem: string
  cluster: ClusterSettings
}

export type JoinerEvent =
  | { kind: 'connected'; conn: PeerConn }
  | { kind: 'retry' }
  | { kind: 'pending'; code: string }
  | { kind: 'refused'; from: string; reason: string; message: string }
  | ({ kind: 'signed' } & SignedReply)
  /** The shell verified and stored the certificate. */
  | { kind: 'adopted' }

export type JoinerEffect =
  | CommonEffect
  /** Send our join request on this connection, or on every one (the shell binds each proof to its connection). */
  | { kind: 'ask'; conn: PeerConn | 'all' }
  | { kind: 'adopt'; certPem: string; caPem: string; cluster: ClusterSettings }

export function joinerStart(code: string, nodeName: string, member: boolean): JoinerState {
  return { status: member ? 'member' : 'joining', code, nodeName }
}

export function joinerStep(s: JoinerState, e: JoinerEvent): Step<JoinerState, JoinerEffect> {
  if (s.status === 'member') return { state: s, effects: [] }
  switch (e.kind) {
    case 'connected':
      return { state: s, effects: [{ kind: 'ask', conn: e.conn }] }
    case 'retry':
      return { state: s, effects: [{ kind: 'ask', conn: 'all' }] }
    case 'pending':
      if (s.status === 'pending') return { state: s, effects: [] }
      return {
        state: { ...s, status: 'pending' },
        effects: [
          log('info', `waiting for approval: run \`homecloud approve ${s.nodeName}\` (code ${e.code})`, {
            code: e.code,
          }),
        ],
      }
    case 'refused':
      return {
        state: s,
        effects: [
          count('homecloud_join_refused_total', { reason: e.reason }),
          log('warn', `join refused: ${e.message}`, { from: e.from, reason: e.reason }),
        ],
      }
    case 'signed':
      return { state: s, effects: onSigned(e) }
    case 'adopted':
      return { state: { ...s, status: 'member' }, effects: [] }
  }
}

function onSigned(r: SignedReply): JoinerEffect[] {
  // Only the cluster can hand us a CA: the reply must prove the join secret too.
  if (!r.proofOk || !r.clusterMatches)
    return [
      log('warn', 'ignored a join reply that does not prove the join secret', {
        from: r.conn.remoteKeyHex.slice(0, 12),
      }),
    ]
  if (!r.certForUs) return [log('warn', 'ignored a join reply whose certificate is not ours')]
  return [{ kind: 'adopt', certPem: r.certPem, caPem: r.caPem, cluster: r.cluster }]
}
