import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { packageRoot } from '../core/package-root.js'
import { Arch, Facts, StorageClass, StorageDevice } from './schema.js'

// Board profiles let a lab node pretend to be a Pi or an old laptop: the same
// Facts shape, read from agent/facts/boards/NAME.json instead of the hardware.

export const BoardProfile = z
  .strictObject({
    description: z.string().max(512),
    board: z.string().min(1).max(128),
    arch: Arch,
    cpuModel: z.string().min(1).max(128),
    cores: z.number().int().positive(),
    memoryMB: z.number().int().positive(),
    storage: z.array(StorageDevice).max(64),
    dataStorageClass: StorageClass,
    fsyncP50Ms: z.number().nonnegative(),
    fsyncP99Ms: z.number().nonnegative(),
    /** Netbooted without a state disk: its state is in RAM (never an etcd seat). */
    ramOnly: z.boolean().default(false),
  })
  .refine((p) => p.fsyncP50Ms <= p.fsyncP99Ms, {
    message: 'must not exceed fsyncP99Ms',
    path: ['fsyncP50Ms'],
  })
export type BoardProfile = z.infer<typeof BoardProfile>

/** A parsed profile plus the name it was loaded under (its file name). */
export type NamedProfile = BoardProfile & { name: string }

// Names become file names, so nothing that could climb out of the directory.
const PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

let boardsDirCache: string | undefined

/**
 * agent/facts/boards under the package root. Found by walking up from this file
 * so it works from the sources (tsx) and from dist/ after tsc alike.
 */
export function defaultBoardsDir(): string {
  boardsDirCache ??= join(packageRoot(), 'agent', 'facts', 'boards')
  return boardsDirCache
}

/** Names of the profiles in `dir`, sorted. */
export async function listProfiles(dir: string = defaultBoardsDir()): Promise<string[]> {
  const files = await readdir(dir).catch(() => [] as string[])
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((n) => PROFILE_NAME.test(n))
    .sort()
}

export async function loadProfile(name: string, dir: string = defaultBoardsDir()): Promise<NamedProfile> {
  const known = await listProfiles(dir)
  if (!PROFILE_NAME.test(name) || !known.includes(name)) {
    throw new HomecloudError(
      'PROFILE_UNKNOWN',
      `no board profile named '${name}' in ${dir}`,
      `known profiles: ${known.join(', ') || '(none)'}`,
    )
  }
  const file = join(dir, `${name}.json`)
  const text = await readFile(file, 'utf8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new HomecloudError(
      'CONFIG_INVALID',
      `board profile ${file} is not valid JSON: ${(err as Error).message}`,
    )
  }
  const parsed = BoardProfile.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new HomecloudError(
      'CONFIG_INVALID',
      `board profile ${file} is malformed: ${issues.join('; ')}`,
      'fix the named field; see the other files in that directory for the shape',
    )
  }
  return { ...parsed.data, name }
}

export interface ProfileFactsInit {
  /** Per-node seed (e.g. the node name) so every simulated node gets its own MAC. */
  seed: string
  dataDir: string
}

/** The Facts a node running as `profile` reports; deterministic in the seed. */
export function profileFacts(profile: NamedProfile, init: ProfileFactsInit): Facts {
  return Facts.parse({
    arch: profile.arch,
    board: profile.board,
    cpuModel: profile.cpuModel,
    cores: profile.cores,
    memoryMB: profile.memoryMB,
    storage: profile.storage,
    dataStorageClass: profile.dataStorageClass,
    macs: [seededMac(init.seed)],
    fsync: { path: init.dataDir, samples: 0, p50Ms: profile.fsyncP50Ms, p99Ms: profile.fsyncP99Ms },
    ramOnly: profile.ramOnly,
    source: `profile:${profile.name}`,
  })
}

/** A locally administered unicast MAC (02:...) from sha256(seed). */
export function seededMac(seed: string): string {
  const hash = createHash('sha256').update(seed).digest()
  const tail = [...hash.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))
  return ['02', ...tail].join(':')
}
