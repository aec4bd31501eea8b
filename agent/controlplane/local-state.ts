import { join } from 'node:path'
import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'

// What this node knows of its own etcd membership, kept beside the data directory so
// a restarted agent resumes (or refuses to resume) the right member. Transitions are
// written *before* the effect they announce:
//   founding / assigning → the data directory may be partial: wipe it and start fresh
//                          (a learner may start empty; a founder has nothing to lose yet)
//   member               → the data directory is this member's: start it as it is
//   removed              → never start etcd again until a new assignment arrives

export const LocalEtcdState = z.object({
  v: z.literal(1),
  status: z.enum(['founding', 'assigning', 'member', 'removed']),
  /** Hex, as etcd prints it; null for a founder until its etcd has answered once. */
  memberId: z
    .string()
    .regex(/^[0-9a-f]{1,16}$/)
    .nullable(),
  initialCluster: z.string().min(1).max(4096),
  initialClusterState: z.enum(['new', 'existing']),
  token: z.string().min(1).max(128),
  sinceMs: z.number().int().nonnegative(),
  /** The cluster's etcd epoch this member belongs to (cluster-file.ts; absent = 0). */
  epoch: z.number().int().nonnegative().max(1_000_000).optional(),
})
export type LocalEtcdState = z.infer<typeof LocalEtcdState>

export function localStatePath(stateDir: string): string {
  return join(stateDir, 'data', 'etcd-member.json')
}

export function readLocalState(stateDir: string): Promise<LocalEtcdState | null> {
  return readJsonFile(localStatePath(stateDir), LocalEtcdState, {
    code: 'STATE_DIR',
    what: "this node's etcd membership record",
    hint: 'remove the file: the coordinator assigns the node again if it is needed',
  })
}

export function writeLocalState(stateDir: string, state: LocalEtcdState): Promise<void> {
  return writeFileAtomic(localStatePath(stateDir), `${JSON.stringify(state, null, 2)}\n`, 0o600)
}
