import type { DropReason } from './intake.js'
import type { NodeRecordBody, RecordVerifier, SignedRecord } from './record.js'
import type { SwimUpdate } from './swim-wire.js'

// The checks every record in a SWIM message passes before the machine may see it, in
// cost order: our cluster, news at all (a duplicate costs no signature check), the
// signature (and that the id is the key's), then admission by certificate. Claims and
// announcements carry no record: the machine weighs them by who sent them.

export interface UpdateIntake {
  clusterId: string
  verifier: RecordVerifier
  /** Would this record change anything here? `dead-incarnation`: not at an incarnation we hold it dead at. */
  classify(record: SignedRecord): 'news' | 'stale' | 'dead-incarnation'
  /** The certificate gate; absent, every well-signed record of the cluster is admitted. */
  admits?(body: NodeRecordBody): 'member' | 'uncertified' | 'revoked'
}

export interface Dropped {
  reason: DropReason | 'stale'
  body: NodeRecordBody
  /** The update it came in (kept aside when only its certificate was missing). */
  update: SwimUpdate
}

/** The updates that may reach the machine, and the records dropped (with why). */
export function checkUpdates(
  updates: readonly SwimUpdate[],
  c: UpdateIntake,
): { accepted: SwimUpdate[]; dropped: Dropped[] } {
  const accepted: SwimUpdate[] = []
  const dropped: Dropped[] = []
  for (const u of updates) {
    if (u.kind !== 'alive' && u.kind !== 'member') {
      accepted.push(u)
      continue
    }
    const why = checkRecord(u.record, c)
    if (why === null) accepted.push(u)
    else dropped.push({ reason: why, body: u.record.body, update: u })
  }
  return { accepted, dropped }
}

function checkRecord(r: SignedRecord, c: UpdateIntake): DropReason | 'stale' | null {
  if (r.body.cluster !== c.clusterId) return 'other-cluster'
  const cls = c.classify(r)
  if (cls === 'stale') return 'stale'
  // A forged record must not earn its sender a "you are dead" answer either.
  if (!c.verifier.verify(r)) return 'bad-signature'
  if (cls === 'dead-incarnation') return cls
  const admitted = c.admits?.(r.body) ?? 'member'
  return admitted === 'member' ? null : admitted
}

/**
 * What a node may send before it can admit records (it holds no certificate of its own in
 * its book yet: a joiner, or one whose certificate is still on its way to disk): which
 * links it wants, nothing else. Any SWIM message could carry its own record (an answer to
 * a member's digest offers every record the member lacks, ours first), and a member that
 * holds our certificate (the signer remembers what it signs) would count us alive then —
 * before the certificate is on our disk. After a power cut we would join again. Once the
 * gate opens, the shell announces us and syncs (swim-shell.ts admitted()).
 */
export function tellsBeforeCertified(msg: { t: string }): boolean {
  return msg.t === 'link'
}
