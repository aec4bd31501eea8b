import type { NodeRecordBody } from './record.js'
import type { PeerConn } from './swarm.js'
import type { SwimUpdate } from './swim-wire.js'

// Records dropped only because their certificate had not arrived yet. The full mesh sent
// every record again with each heartbeat, so the next one got in once the certificate
// came; SWIM sends a record once (a digest exchange, a gossip round) and the next chance
// was anti-entropy ~10 s later: a joiner, or a restarted node, was seen ~9 s after it
// came up. Kept aside here, each is offered again once the gate admits it.

/** At most this many records wait (one per member, the newest kept). */
export const PENDING_RECORDS_MAX = 256
/** A record whose certificate has not come by then is forgotten (anti-entropy brings it again). */
export const PENDING_RECORD_KEEP_MS = 30_000

type RecordUpdate = Extract<SwimUpdate, { record: unknown }>

export class PendingRecords {
  private readonly byId = new Map<string, { update: RecordUpdate; conn: PeerConn; atMono: number }>()

  get size(): number {
    return this.byId.size
  }

  add(update: SwimUpdate, conn: PeerConn, nowMono: number): void {
    if (!('record' in update)) return
    const id = update.record.body.id
    const had = this.byId.get(id)
    if (!had && this.byId.size >= PENDING_RECORDS_MAX) return
    if (had && !newer(update.record.body, had.update.record.body)) return
    this.byId.set(id, { update, conn, atMono: nowMono })
  }

  /** The waiting records the gate admits now (taken out), the expired ones dropped. */
  take(
    admits: (body: NodeRecordBody) => 'member' | 'uncertified' | 'revoked',
    nowMono: number,
  ): { update: RecordUpdate; conn: PeerConn }[] {
    const out: { update: RecordUpdate; conn: PeerConn }[] = []
    for (const [id, p] of this.byId) {
      const verdict = admits(p.update.record.body)
      if (verdict === 'uncertified' && nowMono - p.atMono < PENDING_RECORD_KEEP_MS) continue
      this.byId.delete(id)
      if (verdict === 'member') out.push(p)
    }
    return out
  }
}

function newer(a: NodeRecordBody, b: NodeRecordBody): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.heartbeat > b.heartbeat)
}
