import type { KeyObject } from 'node:crypto'
import { holdersHeldMax } from '../../control/releases/holders.js'
import type { Clock } from '../core/clock.js'
import type { RecordsEtcd } from './records-relay.js'
import type { StoredRelease } from './store.js'
import { writeHolders } from './writes.js'

// This node's holders record (control/releases/holders.ts): what it holds and its
// problem, signed with its identity key, so every node's GET /api/v1/releases shows
// them. Written only when it changed since the last write, not on every records tick.

export interface HoldersReportInit {
  selfId: string
  selfName: string
  /** Signs the record: readers believe a node's record only under its own key. */
  identityKey: KeyObject
}

export class HoldersReport {
  private lastText = ''

  constructor(
    private readonly init: HoldersReportInit,
    private readonly c: { clock: Clock },
  ) {}

  async write(etcd: RecordsEtcd, stored: readonly StoredRelease[], problem: string | null): Promise<void> {
    const held = stored.map((s) => ({ id: s.release.id, have: s.have.count(), of: s.pieces.length }))
    const text = JSON.stringify({ held, problem })
    if (text === this.lastText) return
    await writeHolders(
      etcd,
      {
        node: this.init.selfId,
        name: this.init.selfName,
        atMs: this.c.clock.nowMs(),
        held: held.slice(0, holdersHeldMax),
        problem: problem?.slice(0, 500) ?? null,
      },
      this.init.identityKey,
    )
    this.lastText = text
  }
}
