import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { formatHostPort, type HostPort } from './bootstrap.js'

const PeersFile = z.object({
  v: z.literal(1),
  incarnation: z.number().int().nonnegative(),
  peers: z
    .array(
      z.object({
        host: z.string().max(64),
        port: z.number().int().min(1).max(65535),
        key: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .optional(),
      }),
    )
    .max(64),
})
type PeersFile = z.infer<typeof PeersFile>

/**
 * What the mesh keeps across restarts: the last incarnation (so a restarted node
 * always comes back higher) and the DHT addresses of peers it knew, which become
 * its bootstrap list next time when nothing is configured.
 */
export class MeshStateStore {
  constructor(private readonly path: string) {}

  async load(): Promise<PeersFile> {
    try {
      return PeersFile.parse(JSON.parse(await readFile(this.path, 'utf8')))
    } catch {
      // A missing or damaged file costs only a slower first contact, never a crash.
      return { v: 1, incarnation: 0, peers: [] }
    }
  }

  async save(incarnation: number, peers: HostPort[]): Promise<void> {
    const unique = new Map(peers.map((p) => [formatHostPort(p), p]))
    const data: PeersFile = { v: 1, incarnation, peers: [...unique.values()].slice(0, 64) }
    await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, 0o600)
  }
}
