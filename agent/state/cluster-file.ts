import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import { ClusterId } from '../mesh/cluster-id.js'

export const JoinPolicy = z.enum(['auto', 'approve'])
export type JoinPolicy = z.infer<typeof JoinPolicy>
/** Which local disk a netbooted machine keeps its state on (agent/disk/state-disk.ts). */
export const StateDiskPolicy = z.enum(['labelled-only', 'adopt-empty'])

/** The cluster settings every member holds; a joiner receives them with its certificate. */
export const ClusterFile = z.object({
  v: z.literal(1),
  id: ClusterId,
  name: z.string().min(1).max(63),
  /** auto: a node that proves the join secret is signed at once; approve: it waits for `homecloud approve`. */
  joinPolicy: JoinPolicy.default('auto'),
  /** Lifetime of node certificates; each renews itself at two thirds of it. */
  certValidityMs: z
    .number()
    .int()
    .min(10_000)
    .max(10 * 365 * 86_400_000)
    .default(365 * 86_400_000),
  /** Bumped by every signed settings change; the highest version wins everywhere. */
  settingsVersion: z.number().int().nonnegative().default(0),
  /**
   * Which etcd cluster is the cluster's: bumped by every recovery from a snapshot (absent =
   * 0, the founding one). A member of an older epoch moves its data aside (controlplane/epoch.ts).
   */
  etcdEpoch: z.number().int().nonnegative().max(1_000_000).optional(),
  /**
   * Netbooted machines: labelled-only (absent) uses only a filesystem labelled
   * homecloud-state; adopt-empty also partitions and formats an empty disk. Written on the
   * kernel command line by the serving node.
   */
  stateDiskPolicy: StateDiskPolicy.optional(),
  /** scrypt hash of the status-page password (actions need it, or the admin certificate). */
  uiPasswordHash: z
    .string()
    .max(256)
    .regex(/^scrypt\$/)
    .optional(),
})

/** The settings a signer hands a joiner with its certificate: everything but the file version. */
export const ClusterSettings = ClusterFile.omit({ v: true, settingsVersion: true })
export type ClusterSettings = z.infer<typeof ClusterSettings>

export function clusterSettings(c: ClusterFile): ClusterSettings {
  const { v: _v, settingsVersion: _sv, ...settings } = c
  return settings
}
export type ClusterFile = z.infer<typeof ClusterFile>

export async function readClusterFile(path: string): Promise<ClusterFile | null> {
  return readJsonFile(path, ClusterFile, {
    code: 'STATE_DIR',
    what: 'a valid cluster file',
    hint: 'restore it from another node or found a new cluster with `homecloud init --force`',
  })
}

export async function writeClusterFile(path: string, file: z.input<typeof ClusterFile>): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o644)
}
