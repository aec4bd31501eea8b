import type { PeerConn } from '../../../../agent/mesh/swarm.js'
import type { Requester } from '../../../../agent/trust/signer.js'

/** A connection the pure machines can name in events and effects (they never write to it). */
export function conn(tag = 'a'): PeerConn {
  return {
    remoteKeyHex: tag.padEnd(64, '0'),
    handshakeHash: Buffer.alloc(32),
    remoteHost: '10.77.0.9',
    write: () => {
      throw new Error('a pure machine wrote to a connection')
    },
    destroy: () => {},
    stats: () => ({ initiator: false, bytesIn: 0, bytesOut: 0, openMs: 0 }),
  }
}

export function who(over: Partial<Requester> = {}): Requester {
  return {
    nodeId: 'n1',
    revoked: false,
    member: false,
    heldCertPem: undefined,
    recordName: undefined,
    namesTaken: new Set(['pi5-1']),
    ...over,
  }
}

/** The effects of one kind, typed. */
export function ofKind<F extends { kind: string }, K extends F['kind']>(effects: F[], kind: K) {
  return effects.filter((f): f is Extract<F, { kind: K }> => f.kind === kind)
}

/** What a machine sent on a connection or to everyone, as [t, reason?] pairs. */
export function sent(effects: { kind: string }[]): string[] {
  return effects.flatMap((f) => {
    const e = f as { kind: string; msg?: { t: string; reason?: string } }
    if (e.kind !== 'send' && e.kind !== 'broadcast') return []
    return [`${e.kind}:${e.msg?.t}${e.msg?.reason ? `:${e.msg.reason}` : ''}`]
  })
}
