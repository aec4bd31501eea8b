import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'

/** What `homecloud approve/revoke` need to act as admin: CA, admin cert and key, a node to talk to. */
export const AdminConfig = z.object({
  v: z.literal(1),
  clusterId: z.string(),
  /** https://NODE:7443 of any member; the CLI tries them in order. */
  urls: z.array(z.string().url()).min(1).max(64),
  caCert: z.string(),
  cert: z.string(),
  key: z.string(),
  /**
   * The admin's way into etcd's JSON gateway once etcd's auth is on (etcd/etcd-auth.ts):
   * a name-less certificate (files) and the password of etcd user homecloud-admin.
   */
  etcd: z.object({ cert: z.string(), key: z.string(), password: z.string().min(16).max(128) }).optional(),
})
export type AdminConfig = z.infer<typeof AdminConfig>

export async function readAdminConfig(path: string): Promise<AdminConfig> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new HomecloudError(
      'ADMIN_UNAUTHORIZED',
      `cannot read the admin client config ${path}: ${(err as Error).message}`,
      'pass --admin FILE (homecloud init wrote admin.json into the founder state directory; a lab has it in its directory)',
    )
  }
  const r = AdminConfig.safeParse(json)
  if (!r.success)
    throw new HomecloudError(
      'ADMIN_UNAUTHORIZED',
      `${path} is not an admin client config: ${r.error.issues[0]?.message}`,
    )
  return r.data
}

export async function writeAdminConfig(path: string, c: AdminConfig): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(c, null, 2)}\n`, 0o600)
}
