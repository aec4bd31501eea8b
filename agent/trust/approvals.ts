import type { PeerConn } from '../mesh/swarm.js'
import type { SignedApproval } from './approval.js'
import type { CommonEffect, Step } from './effects.js'
import { type PendingEntry, TRUST_LIMITS } from './wire.js'

// Who waits and who was let in, known on every node: each signer's pending list
// (gossiped by the signer to its connections; shown on every status page) and the
// admins' CA-signed approvals (forwarded by every node to every node, so any signer a
// joiner reaches signs it). Approvals are a set of node ids: two signers approving at
// once cannot conflict. An approval is kept until its node holds a certificate.
//
//   approval (verified, new) ─▶ keep, save, pass on        pending list (from a member) ─▶ keep per signer
//   tick ─▶ forget approvals and pending entries of nodes that are members now

export const APPROVALS_MAX = 1024

export interface ApprovalsState {
  readonly approvals: ReadonlyMap<string, SignedApproval>
  /** What each signer (by node id) last said is pending. */
  readonly bySigner: ReadonlyMap<string, readonly PendingEntry[]>
}

export type ApprovalsEvent =
  | { kind: 'approval'; approval: SignedApproval }
  | { kind: 'pending-list'; from: string; fromMember: boolean; entries: readonly PendingEntry[] }
  | { kind: 'tick'; members: ReadonlySet<string> }
  | { kind: 'connected'; conn: PeerConn }

export type ApprovalsEffect = CommonEffect | { kind: 'save'; approvals: SignedApproval[] }

export function approvalsStart(saved: readonly SignedApproval[]): ApprovalsState {
  return { approvals: new Map(saved.map((a) => [a.nodeId, a])), bySigner: new Map() }
}

export function approvalsStep(s: ApprovalsState, e: ApprovalsEvent): Step<ApprovalsState, ApprovalsEffect> {
  switch (e.kind) {
    case 'approval': {
      const a = e.approval
      if (s.approvals.has(a.nodeId) || s.approvals.size >= APPROVALS_MAX) return { state: s, effects: [] }
      const approvals = new Map(s.approvals).set(a.nodeId, a)
      return {
        state: { ...s, approvals },
        effects: [
          { kind: 'save', approvals: [...approvals.values()] },
          {
            kind: 'event',
            event: { kind: 'approved', id: a.nodeId, name: a.name, message: `${a.name} approved` },
          },
          { kind: 'broadcast', msg: { t: 'approval', approval: a } },
        ],
      }
    }
    case 'pending-list': {
      if (!e.fromMember) return { state: s, effects: [] }
      const bySigner = new Map(s.bySigner).set(e.from, e.entries.slice(0, TRUST_LIMITS.pendingEntriesMax))
      return { state: { ...s, bySigner }, effects: [] }
    }
    case 'tick':
      return forgetMembers(s, e.members)
    case 'connected':
      return {
        state: s,
        effects: [...s.approvals.values()].map((approval) => ({
          kind: 'send' as const,
          conn: e.conn,
          msg: { t: 'approval' as const, approval },
        })),
      }
  }
}

function forgetMembers(
  s: ApprovalsState,
  members: ReadonlySet<string>,
): Step<ApprovalsState, ApprovalsEffect> {
  const approvals = new Map([...s.approvals].filter(([id]) => !members.has(id)))
  const bySigner = new Map([...s.bySigner].map(([k, list]) => [k, list.filter((p) => !members.has(p.id))]))
  const state = { approvals, bySigner }
  if (approvals.size === s.approvals.size) return { state, effects: [] }
  return { state, effects: [{ kind: 'save', approvals: [...approvals.values()] }] }
}

/** Everyone waiting, as this node knows it: its own signer's list over the others', members left out. */
export function pendingView(
  s: ApprovalsState,
  own: Iterable<PendingEntry>,
  isMember: (id: string) => boolean,
): PendingEntry[] {
  const all = new Map<string, PendingEntry>()
  for (const list of s.bySigner.values()) for (const e of list) all.set(e.id, e)
  for (const e of own) all.set(e.id, { id: e.id, name: e.name, code: e.code, sinceMs: e.sinceMs })
  return [...all.values()].filter((e) => !isMember(e.id))
}
