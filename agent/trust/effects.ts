import type { PeerConn } from '../mesh/swarm.js'
import type { TrustMessage } from './wire.js'

// The effects every trust state machine may return; each machine adds its own kinds.
// A machine never performs them: the shell (trust.ts) applies them in the order given.

export type CommonEffect =
  | { kind: 'send'; conn: PeerConn; msg: TrustMessage }
  /** To every connection. */
  | { kind: 'broadcast'; msg: TrustMessage }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown>; text: string }
  | { kind: 'count'; name: string; labels?: Record<string, string> }
  /** A timeline event (the shell stamps the time). */
  | { kind: 'event'; event: { kind: string; id: string; name: string; message: string } }

export type Step<S, E> = { state: S; effects: E[] }

export const log = (
  level: 'debug' | 'info' | 'warn' | 'error',
  text: string,
  fields: Record<string, unknown> = {},
): CommonEffect => ({ kind: 'log', level, fields, text })

export const count = (name: string, labels?: Record<string, string>): CommonEffect =>
  labels ? { kind: 'count', name, labels } : { kind: 'count', name }

/** The wire bounds a refusal's message; a long name quoted in it must not make it unreadable. */
export function bounded(text: string, charsMax: number): string {
  return text.length > charsMax ? `${text.slice(0, charsMax - 1)}…` : text
}
