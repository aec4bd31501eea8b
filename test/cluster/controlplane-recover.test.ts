import assert from 'node:assert/strict'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { execa } from 'execa'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import {
  listSnapshots,
  snapshotName,
  snapshotPaths,
  writeManifest,
} from '../../agent/controlplane/snapshot-store.js'
import { packageRoot } from '../../agent/core/package-root.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'

// Quorum lost for good: the coordinator's periodic snapshots are on the other voters,
// the survivor's status names the recovery command, and `homecloud recover` on the
// survivor brings back a one-voter cluster with the data of the newest intact snapshot;
// a corrupt snapshot is refused with a clear error.

const config = { ...CP_CONFIG, controlPlane: { ...CP_CONFIG.controlPlane, snapshotIntervalMs: 3000 } }

function homecloud(args: string[]) {
  return execa(process.execPath, [join(packageRoot(), 'bin', 'homecloud.js'), ...args], { reject: false })
}

/** A copy of the newest snapshot, newer by name, with one byte flipped. */
async function plantCorrupt(stateDir: string): Promise<string> {
  const newest = (await listSnapshots(stateDir))[0]
  assert.ok(newest, `a snapshot in ${stateDir}`)
  const m = newest.manifest
  const name = snapshotName(m.takenAtMs + 1000, m.revision + 1)
  const file = snapshotPaths(stateDir, name).file
  await copyFile(newest.path, file)
  const bytes = await readFile(file)
  const i = Math.floor(bytes.length / 2)
  bytes[i] = (bytes[i] ?? 0) ^ 0xff
  await writeFile(file, bytes)
  await writeManifest(stateDir, { ...m, name, takenAtMs: m.takenAtMs + 1000, revision: m.revision + 1 })
  return name
}

describe('control plane: recover from a snapshot', { timeout: 300_000 }, () => {
  const closers: (() => void)[] = []
  after(() => {
    for (const c of closers) c()
  })

  it('keeps snapshots on the other voters and rebuilds the cluster on the survivor', async () => {
    const lab = await startLab({ boards: 'pi5,rock5b,pi4-ssd', agentConfig: config })
    const [a, b, c] = lab.nodes as [LabNode, LabNode, LabNode]
    const client = await etcdClientFor(lab, lab.nodes)
    closers.push(() => client.close())
    await waitFor(() => healthyVoters(client, [a, b, c]), { timeoutMs: 90_000, intervalMs: 250 })

    const keys = Array.from({ length: 20 }, (_, i) => `/test/recover/k${String(i).padStart(2, '0')}`)
    let revision = 0
    for (const k of keys) revision = await client.put(k, `v-${k}`)
    // Every node holds a snapshot with those writes: the coordinator's own and the two it sent.
    await waitFor(
      async () => {
        const held = await Promise.all([a, b, c].map((n) => listSnapshots(n.stateDir)))
        const ok = held.map((h) => h.some((s) => s.manifest.revision >= revision))
        return ok.every(Boolean) ? true : `snapshots with revision ≥ ${revision}: ${ok.join(',')}`
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )

    await labUnplug(lab.dir, b.name)
    await labUnplug(lab.dir, c.name)
    await waitFor(
      async () => {
        const v = await fetchClusterView(nodeUrl(a))
        const cp = v?.controlPlane
        return cp && cp.source === 'etcd' && !cp.quorum && cp.recovery
          ? true
          : `not yet: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    const lost = (await fetchClusterView(nodeUrl(a)))!.controlPlane
    assert.equal(lost.recovery, `homecloud recover --state ${a.stateDir}`)
    // The survivor's status page says it too, as its one-line verdict, with the exact command.
    const page = await (await fetch(nodeUrl(a))).text()
    assert.match(page, /Quorum lost/)
    assert.ok(page.includes(`homecloud recover --state ${a.stateDir}`), 'the page names the recovery command')

    await labUnplug(lab.dir, a.name)

    // A board holding only corrupt snapshots refuses, saying why, and changes nothing.
    for (const s of await listSnapshots(b.stateDir)) {
      const bytes = await readFile(s.path)
      const i = Math.floor(bytes.length / 2)
      bytes[i] = (bytes[i] ?? 0) ^ 0xff
      await writeFile(s.path, bytes)
    }
    const refusedRun = await homecloud(['recover', '--state', b.stateDir])
    assert.equal(refusedRun.exitCode, 1, refusedRun.stdout)
    assert.match(refusedRun.stderr, /no intact snapshot.*corrupt/)
    assert.equal((await readLocalState(b.stateDir))?.token, (await readLocalState(c.stateDir))?.token)

    // The survivor: its newest snapshot is corrupt, so the next older one is used.
    const corrupt = await plantCorrupt(a.stateDir)
    const run = await homecloud(['recover', '--state', a.stateDir])
    assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`)
    assert.match(run.stdout, new RegExp(`refused snapshot ${corrupt}: .*corrupt`))
    assert.match(run.stdout, /restored snapshot snap-/)
    const state = await readLocalState(a.stateDir)
    assert.equal(state?.status, 'member')
    assert.equal(state?.initialClusterState, 'new')
    assert.equal(state?.initialCluster.split(',').length, 1)

    await labPlug(lab.dir, a.name)
    const survivor = await etcdClientFor(lab, [a])
    closers.push(() => survivor.close())
    await waitFor(() => healthyVoters(survivor, [a]), { timeoutMs: 60_000, intervalMs: 250 })
    for (const k of keys) assert.equal((await survivor.get(k))?.value, `v-${k}`, k)
    await waitFor(
      async () => {
        const v = await fetchClusterView(nodeUrl(a))
        return v?.controlPlane.quorum && v.coordinator ? true : `not yet: ${JSON.stringify(v?.controlPlane)}`
      },
      { timeoutMs: 30_000 },
    )
  })
})
