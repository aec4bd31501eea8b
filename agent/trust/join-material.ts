import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import { ClusterId } from '../mesh/cluster-id.js'

/**
 * What a machine needs to join by itself: the cluster id, the join secret and where
 * to find peers. The founder writes it; the lab and the netboot server hand it to new
 * machines. It holds a secret, so it is written 0600.
 */
export const JoinMaterial = z.object({
  v: z.literal(1),
  clusterId: ClusterId,
  clusterName: z.string().min(1).max(63),
  secret: z.string().regex(/^[0-9a-f]{64}$/, 'the join secret is 64 hex characters'),
  /** "KEY@IP:PORT" or "IP:PORT" of nodes already in the cluster. */
  bootstrap: z.array(z.string().max(140)).max(64).default([]),
})
export type JoinMaterial = z.infer<typeof JoinMaterial>

export async function readJoinMaterial(path: string): Promise<JoinMaterial | null> {
  return readJsonFile(path, JoinMaterial, {
    code: 'JOIN_MATERIAL_INVALID',
    what: 'valid join material',
    hint: 'copy join.json again from the founder (`homecloud init` wrote it into its state directory)',
  })
}

export async function writeJoinMaterial(path: string, m: JoinMaterial): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(m, null, 2)}\n`, 0o600)
}
