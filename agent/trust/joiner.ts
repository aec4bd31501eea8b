import { createHash } from 'node:crypto'
import type { PeerConn } from '../mesh/swarm.js'
import type { ClusterSettings } from '../state/cluster-file.js'
import { type CommonEffect, count, log, type Step } from './effects.js'

// The joiner: a node with join material and no certificate. It asks one peer at a time
// (only signers sign) and moves on to the next only when that one says it is no signer
// or leaves the question unanswered for JOIN_ASK_TIMEOUT_MS, so two signers are never
// asked at once and a joiner is signed once: a second signer signs only when the first
// crashed, stalled or was cut off mid-join, and even then it answers with the first one's
// certificate when that reached it (signer.ts). Pure: the shell checks the reply's proof
// and certificate and says what it found; this decides.
//
//   joining ──join-pending──▶ pending
//      │                        │
//      └──join-signed (proven)──┴──▶ adopt ──adopted──▶ member (done; identity.ts takes over)

/** A peer asked to sign gets this long to answer before the joiner asks the next one. */
export const JOIN_ASK_TIMEOUT_MS = 8000
/** The `join-refused` reason of a member without the CA key: ask the next peer at once. */
export const NOT_A_SIGNER = 'not-a-signer'

export type JoinerStatus = 'joining' | 'pending' | 'member'

export interface JoinerState {
  readonly status: JoinerStatus
  /** Our short code, from our key: shown on this console and beside our pending entry everywhere. */
  readonly code: string
  readonly nodeName: string
  /** The one peer asked now (its key), and when. */
  readonly asked: { readonly key: string; readonly atMs: number } | null
  /** Peers that said they hold no CA key (skipped until every peer said so). */
  readonly notSigners: ReadonlySet<string>
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

/**
 * Events that may pick whom to ask carry the connections open now and the monotonic
 * time: a wall clock stepped forward must not make a signer look late (the simulator
 * found a joiner moving on after a clock jump).
 */
type Open = { conns: readonly PeerConn[]; monoMs: number }

export type JoinerEvent =
  | ({ kind: 'connected'; conn: PeerConn } & Open)
  | ({ kind: 'retry' } & Open)
  | { kind: 'pending'; code: string }
  | ({ kind: 'refused'; conn: PeerConn; reason: string; message: string } & Open)
  | ({ kind: 'signed' } & SignedReply)
  /** The shell verified and stored the certificate. */
  | { kind: 'adopted' }

export type JoinerEffect =
  | CommonEffect
  /** Send our join request on this connection (the shell binds its proof to the connection). */
  | { kind: 'ask'; conn: PeerConn }
  | { kind: 'adopt'; certPem: string; caPem: string; cluster: ClusterSettings }

export function joinerStart(code: string, nodeName: string, member: boolean): JoinerState {
  return { status: member ? 'member' : 'joining', code, nodeName, asked: null, notSigners: new Set() }
}

export function joinerStep(s: JoinerState, e: JoinerEvent): Step<JoinerState, JoinerEffect> {
  if (s.status === 'member') return { state: s, effects: [] }
  switch (e.kind) {
    case 'connected':
      // The peer asked came back on a new connection: the question (and its answer) went
      // with the old one, so ask again there. A signer that signed answers with that
      // certificate. Otherwise the first connection is asked at once; later ones wait their turn.
      if (s.asked?.key === e.conn.remoteKeyHex) return askNext({ ...s, asked: null }, [e.conn], e.monoMs)
      return waiting(s, e.conns, e.monoMs) ? { state: s, effects: [] } : askNext(s, e.conns, e.monoMs)
    case 'retry':
      return onRetry(s, e.conns, e.monoMs)
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
      return onRefused(s, e)
    case 'signed':
      return { state: s, effects: onSigned(e) }
    case 'adopted':
      return { state: { ...s, status: 'member' }, effects: [] }
  }
}

/** The peer asked is still connected and within its time to answer. */
function waiting(s: JoinerState, conns: readonly PeerConn[], nowMs: number): boolean {
  const a = s.asked
  return a !== null && nowMs - a.atMs < JOIN_ASK_TIMEOUT_MS && conns.some((c) => c.remoteKeyHex === a.key)
}

function onRetry(s: JoinerState, conns: readonly PeerConn[], nowMs: number): Step<JoinerState, JoinerEffect> {
  const a = s.asked
  const current = a && conns.find((c) => c.remoteKeyHex === a.key)
  // Pending: the signer that listed us is asked again each period (an approval may have
  // reached it since); it answered, so it is alive: no need to move on.
  if (s.status === 'pending' && current) return { state: s, effects: [{ kind: 'ask', conn: current }] }
  if (waiting(s, conns, nowMs)) return { state: s, effects: [] }
  return askNext(s, conns, nowMs)
}

function onRefused(
  s: JoinerState,
  e: Extract<JoinerEvent, { kind: 'refused' }>,
): Step<JoinerState, JoinerEffect> {
  const key = e.conn.remoteKeyHex
  if (e.reason === NOT_A_SIGNER) {
    const notSigners = new Set([...s.notSigners, key])
    if (s.asked?.key !== key) return { state: { ...s, notSigners }, effects: [] }
    // Every peer said so: wait for the next period (one may become a voter) rather than
    // asking round and round in a tight loop of questions and refusals.
    if (e.conns.every((c) => notSigners.has(c.remoteKeyHex)))
      return { state: { ...s, notSigners, asked: null }, effects: [] }
    return askNext({ ...s, notSigners }, e.conns, e.monoMs)
  }
  return {
    state: s,
    effects: [
      count('homecloud_join_refused_total', { reason: e.reason }),
      log('warn', `join refused: ${e.message}`, { from: key.slice(0, 12), reason: e.reason }),
    ],
  }
}

/**
 * The next peer to ask: in an order of our own (a hash of our code and its key, so
 * joiners spread over the signers and each keeps one order), the first after the one
 * asked last, skipping those that said they hold no CA key unless every one did.
 */
function askNext(s: JoinerState, conns: readonly PeerConn[], nowMs: number): Step<JoinerState, JoinerEffect> {
  if (conns.length === 0) return { state: { ...s, asked: null }, effects: [] }
  const ranked = [...conns].sort((x, y) => cmp(rank(s.code, x), rank(s.code, y)))
  const signers = ranked.filter((c) => !s.notSigners.has(c.remoteKeyHex))
  const pool = signers.length > 0 ? signers : ranked
  const notSigners = signers.length > 0 ? s.notSigners : new Set<string>()
  const last = s.asked ? rank(s.code, { remoteKeyHex: s.asked.key }) : null
  const next = (last === null ? undefined : pool.find((c) => rank(s.code, c) > last)) ?? pool[0]!
  return {
    state: { ...s, asked: { key: next.remoteKeyHex, atMs: nowMs }, notSigners },
    effects: [{ kind: 'ask', conn: next }],
  }
}

const rank = (code: string, c: { remoteKeyHex: string }) =>
  createHash('sha256').update(`${code}/${c.remoteKeyHex}`).digest('hex')
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

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
