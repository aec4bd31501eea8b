import { STATE_SAVES_FAILED_TOTAL } from '../core/saves.js'
import type { ClusterSettings } from '../state/cluster-file.js'
import { type CommonEffect, count, log } from './effects.js'

// A joiner's certificate goes to disk before the joiner becomes a member anywhere. Its
// signed record leaves the node only once the certificate is in its own book (swim-shell:
// a node that cannot admit tells nothing but its link wishes), and the certificate enters
// the book only once this says it is saved. So "alive in some member's view" implies "the
// certificate survives a power cut": a machine unplugged the moment it shows alive comes
// back as the same member, not as a joiner asking again under its old key. Pure: the
// shell (machines.ts) writes the files and says how it went.
//
//   proven reply ─▶ save ──saved──▶ adopt (member: hello, record, listeners)
//                     └─save-failed─▶ stays out, says why once; the next trust period saves again
//
// A failed save (disk full, read-only) keeps the node out of the cluster: as a member it
// would be one whose next boot joins again, which is what the state disk is there to
// prevent. The certificate is kept in memory meanwhile, so nothing is signed again.

export interface CertToSave {
  readonly certPem: string
  readonly caPem: string
  readonly cluster: ClusterSettings
  /** A save is running: the next period waits for its outcome instead of starting another. */
  readonly inFlight: boolean
  readonly failures: number
  /** The last failure's message: a new one is said again, the same one is only counted. */
  readonly lastError: string | null
}

export type SaveEvent =
  | { kind: 'saved' }
  | { kind: 'save-failed'; nodeId: string; message: string }
  /** The trust period: a failed save is tried again. */
  | { kind: 'retry' }

export type SaveEffect =
  | CommonEffect
  /** Write the certificate, its key and the CA to the state directory (fsynced). */
  | { kind: 'save'; certPem: string; caPem: string; cluster: ClusterSettings }
  /** On disk: take it into the book and announce ourselves. */
  | { kind: 'adopt'; certPem: string; caPem: string; cluster: ClusterSettings }

/** The certificate just received: saved first. */
export function startSave(reply: { certPem: string; caPem: string; cluster: ClusterSettings }): {
  saving: CertToSave
  effects: SaveEffect[]
} {
  const { certPem, caPem, cluster } = reply
  return {
    saving: { certPem, caPem, cluster, inFlight: true, failures: 0, lastError: null },
    effects: [{ kind: 'save', certPem, caPem, cluster }],
  }
}

/** One event while saving; `saving: null` means saved (the effects adopt it). */
export function saveStep(
  c: CertToSave,
  e: SaveEvent,
  nodeName: string,
): { saving: CertToSave | null; effects: SaveEffect[] } {
  const { certPem, caPem, cluster } = c
  switch (e.kind) {
    case 'saved': {
      const after =
        c.failures > 0
          ? [log('info', `certificate saved after ${c.failures} failed attempts`, { failures: c.failures })]
          : []
      return { saving: null, effects: [...after, { kind: 'adopt', certPem, caPem, cluster }] }
    }
    case 'retry':
      if (c.inFlight) return { saving: c, effects: [] }
      return { saving: { ...c, inFlight: true }, effects: [{ kind: 'save', certPem, caPem, cluster }] }
    case 'save-failed': {
      const saving = { ...c, inFlight: false, failures: c.failures + 1, lastError: e.message }
      const counted = count(STATE_SAVES_FAILED_TOTAL, { what: 'certificate' })
      if (e.message === c.lastError) return { saving, effects: [counted] }
      const text = `could not save the certificate: ${e.message}; not joining until it is on disk (tried again every period)`
      return {
        saving,
        effects: [
          counted,
          log('error', text, { err: e.message }),
          {
            kind: 'event',
            event: {
              kind: 'certificate-not-saved',
              id: e.nodeId,
              name: nodeName,
              message: `${nodeName} ${text}`,
            },
          },
        ],
      }
    }
  }
}
