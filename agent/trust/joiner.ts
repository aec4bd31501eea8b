import { createHash } from 'node:crypto'
import type { PeerConn } from '../mesh/swarm.js'
import type { ClusterSettings } from '../state/cluster-file.js'
import { type CommonEffect, count, log, type Step } from './effects.js'
import { type CertToSave, type SaveEffect, type SaveEvent, saveStep, startSave } from './join-save.js'

// The joiner: a node with join material and no certificate. It asks one peer at a time
// (only signers sign) and moves on to the next only when that one says it is no signer
// or leaves the question unanswered for JOIN_ASK_TIMEOUT_MS, so two signers are never
// asked at once and a joiner is signed once: a second signer signs only when the first
// crashed, stalled or was cut off mid-join, and even then it answers with the first one's
// certificate when that reached it (signer.ts). Pure: the shell checks the reply's proof
// and certificate and says what it found; this decides.
//
// Past a full mesh's size a joiner's few links (its bootstrap picks, at most 4 strangers)
// often reach no signer: 3–5 voters hold the CA key among 50 nodes. A member without the
// key names the signers it knows in its `not-a-signer` refusal, and the joiner asks the
// mesh for a link to one of them (`reach`), one at a time, the next only when that one
// did not link or answer within JOIN_ASK_TIMEOUT_MS. It still asks one peer at a time,
// known signers first, so the signed-once rule above is unchanged.
//
// A certificate is public and signed once, so any member holding it hands it back
// (routes.ts answerAsMember): when a signer leaves the question unanswered, the members
// linked to us are asked again before the next signer (askMembersAgain). In the 50-agent
// lab questions to and answers from the busy signers (etcd voters, signing in pure JS)
// were lost for minutes while members answered every question.
//
//   joining ──join-pending──▶ pending
//      │                        │
//      └──join-signed (proven)──┴──▶ saving ──saved──▶ adopt: member (done; identity.ts takes over)
//                 ▲                    │
//                 └────unusable────────┘ (the book refused it: asked again)
//
// Saving (join-save.ts): the certificate is on disk before anyone can count us a member.

/** A peer asked to sign gets this long to answer before the joiner asks the next one. */
export const JOIN_ASK_TIMEOUT_MS = 8000
/** The `join-refused` reason of a member without the CA key: ask the next peer at once. */
export const NOT_A_SIGNER = 'not-a-signer'
/** Signers a joiner remembers from refusals (the newest kept); as many as one refusal may name. */
export const SIGNER_HINTS_MAX = 8
/** A link to a named signer is held this long (then it is the overlay's to keep or drop). */
export const SIGNER_REACH_MS = 30_000

/** A node that signs, as a refusal names it: its key and where its mesh transport listens. */
export interface SignerHint {
  key: string
  host: string
  port: number
}

export type JoinerStatus = 'joining' | 'pending' | 'saving' | 'member'

export interface JoinerState {
  readonly status: JoinerStatus
  /** Our short code, from our key: shown on this console and beside our pending entry everywhere. */
  readonly code: string
  readonly nodeName: string
  /** The one peer asked now (its key), and when. */
  readonly asked: { readonly key: string; readonly atMs: number } | null
  /** Peers that said they hold no CA key (skipped until every peer said so). */
  readonly notSigners: ReadonlySet<string>
  /** Signers other peers named (by key), asked before anyone else once linked. */
  readonly signers: ReadonlyMap<string, SignerHint>
  /** The named signer we last asked the mesh to link us to, and when. */
  readonly reached: { readonly key: string; readonly atMs: number } | null
  /** When the ask was made after whose lapse the members were asked again (once per lapse). */
  readonly recheckedFor: number | null
  /** The certificate received, while it is being saved (status `saving`). */
  readonly saving: CertToSave | null
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
  | ({ kind: 'refused'; conn: PeerConn; reason: string; message: string; signers?: SignerHint[] } & Open)
  | ({ kind: 'signed' } & SignedReply)
  /** The certificate is on disk (or the save failed: join-save.ts). */
  | Exclude<SaveEvent, { kind: 'retry' }>
  /** The book refused the certificate we were about to save (not valid yet, say): ask again. */
  | { kind: 'unusable' }

export type JoinerEffect =
  | CommonEffect
  /** Send our join request on this connection (the shell binds its proof to the connection). */
  | { kind: 'ask'; conn: PeerConn }
  | SaveEffect
  /** Hold a link to this signer for `forMs` (none of ours is one). */
  | { kind: 'reach'; signer: SignerHint; forMs: number }

export function joinerStart(code: string, nodeName: string, member: boolean): JoinerState {
  return {
    status: member ? 'member' : 'joining',
    code,
    nodeName,
    asked: null,
    notSigners: new Set(),
    signers: new Map(),
    reached: null,
    recheckedFor: null,
    saving: null,
  }
}

export function joinerStep(s: JoinerState, e: JoinerEvent): Step<JoinerState, JoinerEffect> {
  if (s.status === 'member') return { state: s, effects: [] }
  if (s.saving) return onSaving(s, s.saving, e)
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
      return onSigned(s, e)
    default:
      // saved, save-failed, unusable: only while saving.
      return { state: s, effects: [] }
  }
}

/** Saving: nobody is asked (we hold a certificate); the period retries a failed save. */
function onSaving(s: JoinerState, c: CertToSave, e: JoinerEvent): Step<JoinerState, JoinerEffect> {
  if (e.kind === 'unusable') return { state: { ...s, status: 'joining', saving: null }, effects: [] }
  if (e.kind !== 'saved' && e.kind !== 'save-failed' && e.kind !== 'retry') return { state: s, effects: [] }
  const r = saveStep(c, e, s.nodeName)
  const status = r.saving ? 'saving' : 'member'
  return { state: { ...s, status, saving: r.saving }, effects: r.effects }
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
  return askMembersAgain(s, conns) ?? reachSigner(askNext(s, conns, nowMs), conns, nowMs)
}

/**
 * The peer asked left our question unanswered (its time ran out or its link went): it
 * may have signed, and its answer been lost. Before the next signer is asked, the peers
 * that said they hold no CA key are asked again, all at once, and get one period: a
 * member that holds our certificate by now hands it back (routes.ts). Members never
 * sign, so asking several at once cannot sign us twice; signers are still asked one at a time.
 */
function askMembersAgain(s: JoinerState, conns: readonly PeerConn[]): Step<JoinerState, JoinerEffect> | null {
  const a = s.asked
  if (!a || s.recheckedFor === a.atMs) return null
  const members = conns.filter((c) => s.notSigners.has(c.remoteKeyHex) && c.remoteKeyHex !== a.key)
  if (members.length === 0) return null
  return {
    state: { ...s, recheckedFor: a.atMs },
    effects: members.map((conn) => ({ kind: 'ask', conn }) as const),
  }
}

function onRefused(
  s: JoinerState,
  e: Extract<JoinerEvent, { kind: 'refused' }>,
): Step<JoinerState, JoinerEffect> {
  const key = e.conn.remoteKeyHex
  if (e.reason === NOT_A_SIGNER) {
    const notSigners = new Set([...s.notSigners, key])
    const signers = remember(s.signers, e.signers ?? [], key)
    const next = { ...s, notSigners, signers }
    if (s.asked?.key !== key) return reachSigner({ state: next, effects: [] }, e.conns, e.monoMs)
    // Every peer said so: wait for the next period (one may become a voter) rather than
    // asking round and round in a tight loop of questions and refusals.
    if (e.conns.every((c) => notSigners.has(c.remoteKeyHex)))
      return reachSigner({ state: { ...next, asked: null }, effects: [] }, e.conns, e.monoMs)
    return reachSigner(askNext(next, e.conns, e.monoMs), e.conns, e.monoMs)
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
  // Signers someone named come first, then everyone else, each part in our own order.
  const order = (c: { remoteKeyHex: string }) => `${s.signers.has(c.remoteKeyHex) ? 0 : 1}${rank(s.code, c)}`
  const ranked = [...conns].sort((x, y) => cmp(order(x), order(y)))
  const signers = ranked.filter((c) => !s.notSigners.has(c.remoteKeyHex))
  const pool = signers.length > 0 ? signers : ranked
  const notSigners = signers.length > 0 ? s.notSigners : new Set<string>()
  // After a peer that is no named signer, a named one linked now is asked at once.
  const last = s.asked ? order({ remoteKeyHex: s.asked.key }) : null
  const namedFirst = last?.startsWith('1') && pool.some((c) => s.signers.has(c.remoteKeyHex))
  const next = (last === null || namedFirst ? undefined : pool.find((c) => order(c) > last)) ?? pool[0]!
  return {
    state: { ...s, asked: { key: next.remoteKeyHex, atMs: nowMs }, notSigners },
    effects: [{ kind: 'ask', conn: next }],
  }
}

/**
 * None of our links is a signer someone named: ask the mesh for a link to one, in our
 * own order, the next only once the one before had JOIN_ASK_TIMEOUT_MS to link and answer.
 */
function reachSigner(
  r: Step<JoinerState, JoinerEffect>,
  conns: readonly PeerConn[],
  nowMs: number,
): Step<JoinerState, JoinerEffect> {
  const s = r.state
  if (s.status === 'member' || s.signers.size === 0) return r
  const usable = [...s.signers.values()].filter((h) => !s.notSigners.has(h.key))
  if (usable.some((h) => conns.some((c) => c.remoteKeyHex === h.key))) return r
  if (s.reached && nowMs - s.reached.atMs < JOIN_ASK_TIMEOUT_MS) return r
  if (usable.length === 0) return r
  const ranked = usable.sort((x, y) =>
    cmp(rank(s.code, { remoteKeyHex: x.key }), rank(s.code, { remoteKeyHex: y.key })),
  )
  const last = s.reached ? ranked.findIndex((h) => h.key === s.reached!.key) : -1
  const signer = ranked[last + 1] ?? ranked[0]!
  return {
    state: { ...s, reached: { key: signer.key, atMs: nowMs } },
    effects: [...r.effects, { kind: 'reach', signer, forMs: SIGNER_REACH_MS }],
  }
}

/**
 * What a member without the CA key names in its refusal: the voters it sees alive (their
 * signed records say so; a voter holds the CA key), where their mesh transport listens.
 */
export function signerHints(
  voters: readonly { publicKey: string; addresses: readonly string[]; ports: { dht: number } }[],
): SignerHint[] {
  return voters
    .filter((v) => v.addresses[0])
    .slice(0, SIGNER_HINTS_MAX)
    .map((v) => ({ key: v.publicKey, host: v.addresses[0]!, port: v.ports.dht }))
}

/** Signers named by a refusal join those we know (the newest kept, never the refusing peer itself). */
function remember(
  known: ReadonlyMap<string, SignerHint>,
  named: readonly SignerHint[],
  refusedBy: string,
): ReadonlyMap<string, SignerHint> {
  if (named.length === 0 && !known.has(refusedBy)) return known
  const out = new Map(known)
  out.delete(refusedBy)
  for (const h of named.slice(0, SIGNER_HINTS_MAX)) {
    if (h.key === refusedBy) continue
    out.delete(h.key)
    out.set(h.key, h)
  }
  while (out.size > SIGNER_HINTS_MAX) out.delete(out.keys().next().value!)
  return out
}

const rank = (code: string, c: { remoteKeyHex: string }) =>
  createHash('sha256').update(`${code}/${c.remoteKeyHex}`).digest('hex')
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

function onSigned(s: JoinerState, r: SignedReply): Step<JoinerState, JoinerEffect> {
  // Only the cluster can hand us a CA: the reply must prove the join secret too.
  if (!r.proofOk || !r.clusterMatches) {
    const from = r.conn.remoteKeyHex.slice(0, 12)
    return {
      state: s,
      effects: [log('warn', 'ignored a join reply that does not prove the join secret', { from })],
    }
  }
  if (!r.certForUs)
    return { state: s, effects: [log('warn', 'ignored a join reply whose certificate is not ours')] }
  const { saving, effects } = startSave(r)
  return { state: { ...s, status: 'saving', saving }, effects }
}
