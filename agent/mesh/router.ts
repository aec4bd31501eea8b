import type { z } from 'zod'
import type { NodeRecordBody } from './record.js'
import type { PeerConn } from './swarm.js'
import { encodeFrame, type WireMessage } from './wire.js'

/** Who may send a message type: anyone who completed the Noise handshake, or members only. */
export type RouteFrom = 'anyone' | 'members'

export interface Route {
  schema: z.ZodType<WireMessage>
  from: RouteFrom
  handle(conn: PeerConn, msg: WireMessage): void
}

export type Parsed =
  | { ok: true; msg: WireMessage; route: Route }
  | { ok: false; reason: 'malformed'; detail: string }

/**
 * The mesh's published face for protocols: each registers the message types it speaks
 * (a zod schema per type, and who may send it), and hears of new connections and of
 * records from nodes whose certificate it lacks. The mesh owns the connections and the
 * framing; it parses each frame against the schema registered for its `t` and hands
 * the message to that protocol only. Protocols never see each other.
 */
export interface MeshRouter {
  route<M extends WireMessage>(
    t: M['t'],
    schema: z.ZodType<M>,
    handle: (conn: PeerConn, msg: M) => void,
    opts?: { from?: RouteFrom },
  ): void
  /** A new connection: say what a newcomer must know. */
  onConnection(fn: (conn: PeerConn) => void): void
  /** A well-signed record of a node whose certificate we do not hold. */
  onUncertified(fn: (conn: PeerConn, body: NodeRecordBody, direct: boolean) => void): void
  send<M extends WireMessage>(conn: PeerConn, msg: M): void
  /** To every connection. */
  broadcast<M extends WireMessage>(msg: M): void
}

/** The router the mesh dispatches through (the mesh and tests build it; protocols see MeshRouter). */
export class MessageRouter implements MeshRouter {
  private readonly routes = new Map<string, Route>()
  private readonly connectionHooks: ((conn: PeerConn) => void)[] = []
  private readonly uncertifiedHooks: ((conn: PeerConn, body: NodeRecordBody, direct: boolean) => void)[] = []

  constructor(private readonly connections: () => PeerConn[]) {}

  route<M extends WireMessage>(
    t: M['t'],
    schema: z.ZodType<M>,
    handle: (conn: PeerConn, msg: M) => void,
    opts: { from?: RouteFrom } = {},
  ): void {
    if (this.routes.has(t)) throw new Error(`assertion failed: message type ${t} registered twice`)
    this.routes.set(t, {
      schema,
      from: opts.from ?? 'anyone',
      handle: handle as (conn: PeerConn, msg: WireMessage) => void,
    })
  }

  onConnection(fn: (conn: PeerConn) => void): void {
    this.connectionHooks.push(fn)
  }

  onUncertified(fn: (conn: PeerConn, body: NodeRecordBody, direct: boolean) => void): void {
    this.uncertifiedHooks.push(fn)
  }

  send<M extends WireMessage>(conn: PeerConn, msg: M): void {
    conn.write(encodeFrame(msg))
  }

  broadcast<M extends WireMessage>(msg: M): void {
    const frame = encodeFrame(msg)
    for (const conn of this.connections()) conn.write(frame)
  }

  /** Bytes → a message of a registered type, checked by its schema (errors name the field). */
  parse(payload: Buffer): Parsed {
    return parseWith(this.routes, payload)
  }

  connected(conn: PeerConn): void {
    for (const fn of this.connectionHooks) fn(conn)
  }

  uncertified(conn: PeerConn, body: NodeRecordBody, direct: boolean): void {
    for (const fn of this.uncertifiedHooks) fn(conn, body, direct)
  }

  types(): string[] {
    return [...this.routes.keys()]
  }
}

/** The envelope check shared by the router and tools that read frames (the rogue peer). */
export function parseWith(routes: ReadonlyMap<string, Pick<Route, 'schema'>>, payload: Buffer): Parsed {
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not JSON' }
  }
  const t = (json as { t?: unknown } | null)?.t
  if (typeof t !== 'string') return { ok: false, reason: 'malformed', detail: 't: no message type' }
  const route = routes.get(t)
  if (!route) return { ok: false, reason: 'malformed', detail: `t: unknown message type ${t.slice(0, 32)}` }
  const r = route.schema.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    return {
      ok: false,
      reason: 'malformed',
      detail: `${issue?.path.join('.') || 'message'}: ${issue?.message}`,
    }
  }
  return { ok: true, msg: r.data, route: route as Route }
}
