import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
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
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new HomecloudError('STATE_DIR', `cannot read ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const r = JoinMaterial.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    throw new HomecloudError(
      'JOIN_MATERIAL_INVALID',
      `${path} is not valid join material (${issue?.path.join('.') || 'file'}: ${issue?.message})`,
      'copy join.json again from the founder (`homecloud init` wrote it into its state directory)',
    )
  }
  return r.data
}

export async function writeJoinMaterial(path: string, m: JoinMaterial): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(m, null, 2)}\n`, 0o600)
}
