import type { PeerConn } from '../mesh/swarm.js'
import { normalizeSerial } from '../pki/keys.js'
import {
  compareRevocations,
  mergeRevocations,
  nextRevocations,
  type RevocationBody,
  type RevocationEntry,
  type RevocationList,
} from '../pki/revocations.js'
import { type CommonEffect, log, type Step } from './effects.js'
import { revocationMessages } from './revocation-pages.js'
import { TRUST_LIMITS } from './wire.js'

// Revocation everywhere: one CA-signed list, every version carrying every earlier entry,
// gossiped to every node and handed to every new connection. Several signers may issue
// at once, or one may revoke while cut off from the others on top of an older list; the
// lists still converge to one that holds every entry:
// - every node keeps the winner of a total order (version, entry count, signature) and
//   refuses the nodes of every verified list it has seen (the book's union), so a lost
//   race never un-revokes anyone, not even for a moment;
// - a list that lost but holds an entry the winner lacks is *raced*: every node keeps it
//   (saved, beside the winner), passes it on once, hands it to every new connection and
//   offers it in anti-entropy, until a list that contains it wins. The signer that issued
//   it may have crashed, and the nodes that hold it may not be signers: carried this way
//   it reaches whichever signer is alive, without its own signer;
// - a signer that holds a raced list issues the union of all it holds at the next
//   version. Signing is deterministic (RSA PKCS#1 v1.5) and the body is a sorted union, so
//   two signers repairing the same race issue byte-identical lists; two that held
//   different raced lists issue two unions, each raced against the other, and the next
//   round holds both.
//
//   received(verified) ─▶ revoke its entries (book) ─▶ winner changed? adopt: save, pass on
//                                                  ├─▶ not in the winner? keep as raced: save, pass on
//                                                  └─▶ signer holding raced lists? sign the union
//   revoke(admin, signer) ─▶ sign next version (with every raced list) ─▶ issued ─▶ as received

export interface RevocationsState {
  readonly clusterId: string
  readonly list: RevocationList | undefined
  /** Lists that lost to `list` but hold entries it lacks: greatest first, none containing another. */
  readonly raced: readonly RevocationList[]
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
  /** The winner and the raced lists, written together (a restart must not forget a raced entry). */
  | { kind: 'save'; list: RevocationList; raced: readonly RevocationList[] }
  | { kind: 'sign'; body: RevocationBody }

/** From what was saved: the winner of all of them, and those that still hold entries it lacks. */
export function revocationsStart(
  clusterId: string,
  list: RevocationList | undefined,
  raced: readonly RevocationList[] = [],
): RevocationsState {
  const mine = [list, ...raced].filter((l): l is RevocationList => l?.clusterId === clusterId)
  const winner = mine.reduce<RevocationList | undefined>((w, l) => mergeRevocations(w, l), undefined)
  return { clusterId, list: winner ?? list, raced: winner ? racedAgainst(winner, mine) : [] }
}

export function revocationsStep(
  s: RevocationsState,
  e: RevocationsEvent,
): Step<RevocationsState, RevocationsEffect> {
  switch (e.kind) {
    case 'connected':
      return {
        state: s,
        effects: held(s).flatMap((l) =>
          revocationMessages(l).map((msg) => ({ kind: 'send', conn: e.conn, msg }) as const),
        ),
      }
    case 'revoke': {
      const body = nextRevocations(s.clusterId, held(s), [e.entry])
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

/** The winner, then the raced lists. */
const held = (s: RevocationsState): RevocationList[] => (s.list ? [s.list, ...s.raced] : [])

function adopt(
  s: RevocationsState,
  list: RevocationList,
  signer: boolean,
): Step<RevocationsState, RevocationsEffect> {
  if (list.clusterId !== s.clusterId) return { state: s, effects: [] }
  const winner = mergeRevocations(s.list, list) ?? list
  const raced = racedAgainst(winner, [...s.raced, ...(s.list ? [s.list] : []), list])
  const had = new Set(s.raced.map((l) => l.signature))
  const newlyRaced = raced.filter((l) => !had.has(l.signature))
  const effects: RevocationsEffect[] = [{ kind: 'apply', list }]
  const state = { ...s, list: winner, raced }
  if (winner !== s.list || newlyRaced.length > 0 || raced.length !== s.raced.length)
    effects.push({ kind: 'save', list: winner, raced })
  // Pass it on: nodes that were offline get it from whoever they meet first.
  if (winner !== s.list) effects.push(...broadcast(winner))
  if (signer && raced.length > 0) {
    // The union supersedes the raced lists: it is what goes round, not them.
    effects.push(
      log('info', 'revocation lists raced (entries the winner lacks): issuing their union', {
        versions: [winner.version, ...raced.map((l) => l.version)],
      }),
      { kind: 'sign', body: nextRevocations(s.clusterId, [winner, ...raced]) },
    )
  } else for (const l of newlyRaced) effects.push(...broadcast(l))
  return { state, effects }
}

const broadcast = (list: RevocationList): RevocationsEffect[] =>
  revocationMessages(list).map((msg) => ({ kind: 'broadcast', msg }) as const)

/**
 * The lists among `candidates` that hold an entry `winner` lacks, as an antichain: one
 * per signature, none whose entries another holds (of two with the same entries, the
 * greater), greatest first, at most revocationsRacedMax (the least are dropped: their
 * entries stay refused here, and other nodes still carry them).
 */
export function racedAgainst(
  winner: RevocationList,
  candidates: readonly RevocationList[],
): RevocationList[] {
  const sets = new Map<string, { list: RevocationList; keys: Set<string> }>()
  const inWinner = new Set(winner.entries.map(key))
  for (const l of candidates) {
    if (l.clusterId !== winner.clusterId || l.signature === winner.signature) continue
    if (l.entries.every((e) => inWinner.has(key(e)))) continue
    sets.set(l.signature, { list: l, keys: new Set(l.entries.map(key)) })
  }
  const all = [...sets.values()].sort((a, b) => compareRevocations(b.list, a.list))
  const kept = all.filter(
    (a, i) => !all.some((b, j) => j !== i && within(a.keys, b.keys) && (a.keys.size < b.keys.size || j < i)),
  )
  return kept.slice(0, TRUST_LIMITS.revocationsRacedMax).map((x) => x.list)
}

const within = (a: ReadonlySet<string>, b: ReadonlySet<string>) => [...a].every((k) => b.has(k))

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

/** Lists hold one entry per serial (normalizeEntries). */
const key = (e: RevocationEntry) => normalizeSerial(e.serial)
