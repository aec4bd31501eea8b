import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readReleaseDir } from '../../agent/release/dir.js'
import { makeRelease } from '../../agent/release/make.js'
import {
  generateReleaseKey,
  type ReleaseKey,
  readReleaseKey,
  SIGNATURE_FILE,
  signManifest,
  writeReleaseKey,
} from '../../agent/release/signature.js'
import { publishRelease } from '../../cli/release-publish.js'
import type { LabFile } from '../lab-file.js'
import { waitFor } from '../wait.js'

// The lab's software comes as a release, like a real cluster's: the lab has its own
// release key (trusted at founding), signs the netboot image as a release, publishes
// it to one node, and waits until every node holds it from its peers. No node is
// handed an image directory.

export const labReleaseKeyFile = (labDir: string) => join(labDir, 'release.key')

export async function labReleaseKey(labDir: string): Promise<ReleaseKey> {
  const path = labReleaseKeyFile(labDir)
  if (existsSync(path)) return readReleaseKey(path)
  const key = generateReleaseKey()
  await writeReleaseKey(path, key)
  return key
}

/** The netboot image directory → a signed release directory in the lab (one per architecture: `name`). */
export async function prepareLabRelease(labDir: string, imageDir: string, name = 'release'): Promise<string> {
  const out = join(labDir, name)
  const release = await makeRelease({ from: imageDir, out })
  const sig = signManifest(release.manifestBytes, await labReleaseKey(labDir))
  await writeFile(join(out, SIGNATURE_FILE), `${JSON.stringify(sig)}\n`)
  return out
}

/** Publishes the lab's release to one node (default the first) and waits until every node holds it. */
export async function publishLabRelease(
  lab: LabFile,
  dir: string,
  opts: { origin?: string; timeoutMs?: number; progress?: (line: string) => void } = {},
): Promise<{ id: string; origin: string }> {
  const origin = opts.origin ?? lab.nodes[0]!.name
  // Right after the mesh formed, etcd may not answer yet: the node says so, and we ask again.
  const deadline = Date.now() + 120_000
  let r: Awaited<ReturnType<typeof publishRelease>> | undefined
  while (!r) {
    try {
      r = await publishRelease({ admin: join(lab.dir, 'admin.json'), dir, node: origin, current: true })
    } catch (err) {
      const code = (err as { code?: string }).code
      if ((code !== 'ETCD_UNREACHABLE' && code !== 'RELEASE_KEY_UNTRUSTED') || Date.now() > deadline)
        throw err
      opts.progress?.(`release: ${(err as Error).message}; trying again`)
      await new Promise((res) => setTimeout(res, 1000))
    }
  }
  opts.progress?.(`release ${r.version} published to ${origin}; waiting for every node to hold it`)
  await waitNodesHold(lab, r.id, { timeoutMs: opts.timeoutMs ?? 120_000, progress: opts.progress })
  return { id: r.id, origin }
}

/** Waits until every running node of the lab holds a release complete (its own GET /api/v1/releases). */
export async function waitNodesHold(
  lab: LabFile,
  id: string,
  opts: { timeoutMs: number; progress?: (line: string) => void; names?: string[] },
): Promise<void> {
  const nodes = lab.nodes.filter((n) => n.pid !== null && (!opts.names || opts.names.includes(n.name)))
  await waitFor(
    async () => {
      const missing: string[] = []
      for (const n of nodes) {
        const held = await heldOn(n.address, id)
        if (!held || held.have !== held.of)
          missing.push(`${n.name} ${held ? `${held.have}/${held.of}` : '-'}`)
      }
      return missing.length === 0
        ? true
        : `release ${id.slice(0, 12)} not yet complete on ${missing.join(', ')}`
    },
    { timeoutMs: opts.timeoutMs, progress: opts.progress, intervalMs: 500 },
  )
}

export async function heldOn(address: string, id: string): Promise<{ have: number; of: number } | null> {
  try {
    const res = await fetch(`http://${address}:7080/api/v1/releases`, { signal: AbortSignal.timeout(2000) })
    const v = (await res.json()) as { local: { held: { id: string; have: number; of: number }[] } }
    return v.local.held.find((h) => h.id === id) ?? null
  } catch {
    return null
  }
}

export async function releaseIdOf(dir: string): Promise<string> {
  return (await readReleaseDir(dir)).release.id
}

/**
 * Publishes the lab's releases once the cluster formed: the first release of each
 * architecture becomes its current one (every node serves it), and the slots' release
 * (the same as the amd64 netboot one, or its own).
 */
export async function publishLabReleases(
  lab: LabFile,
  opts: { origin?: string; progress?: (line: string) => void },
): Promise<void> {
  const publish = async (dir: string) => (await publishLabRelease(lab, dir, opts)).id
  const nb = lab.netboot
  if (nb?.releaseDir) {
    nb.releaseId = await publish(nb.releaseDir)
    for (const other of nb.otherArchs) other.releaseId = await publish(other.releaseDir)
  }
  if (lab.slots) {
    lab.slots.releaseId =
      lab.slots.releaseDir === nb?.releaseDir ? nb.releaseId : await publish(lab.slots.releaseDir)
  }
}
