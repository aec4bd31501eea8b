// The README's lab as a new user runs it: `homecloud lab up 2>&1 | tee lab.log`, then
// Ctrl-C. The terminal sends SIGINT to the whole pipeline, so tee is gone before the
// CLI says a word about stopping; the lab must go down all the same.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { packageRoot } from '../../agent/core/package-root.js'
import { labDown } from '../../lab/launcher.js'
import { findLabProcesses } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { onCleanup, runCleanups, testLabPrefix } from '../support/lab.js'

const dir = await mkdtemp(join(tmpdir(), testLabPrefix()))
onCleanup(async () => {
  await labDown(dir).catch(() => {})
  await rm(dir, { recursive: true, force: true })
})
after(runCleanups)

describe('lab up in a pipeline', () => {
  test('Ctrl-C stops every agent even though tee exits first; one cluster id throughout', async () => {
    const cli = join(packageRoot(), 'bin', 'homecloud.js')
    const log = join(dir, 'lab.log')
    // Its own process group, like a shell job: the "Ctrl-C" below goes to every process in it.
    const pipeline = spawn(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${cli}" lab up --dir "${dir}/lab" --nodes 2 --no-kube 2>&1 | tee "${log}"`,
      ],
      { detached: true, stdio: 'ignore' },
    )
    const exited = new Promise<number | null>((resolve) => pipeline.on('exit', (code) => resolve(code)))
    onCleanup(async () => {
      try {
        process.kill(-pipeline.pid!, 'SIGKILL')
      } catch {}
    })
    await waitFor(
      async () =>
        (await readFile(log, 'utf8').catch(() => '')).includes('The lab runs until Ctrl-C') || 'lab up',
      { timeoutMs: 120_000, intervalMs: 250 },
    )
    assert.ok((await findLabProcesses(join(dir, 'lab'))).length >= 2, 'agents running')

    process.kill(-pipeline.pid!, 'SIGINT')
    await exited
    await waitFor(
      async () => {
        const left = await findLabProcesses(join(dir, 'lab'))
        return left.length === 0 || `still running: ${left.join(', ')}`
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )

    // The id printed while starting is the one in the table.
    const text = await readFile(log, 'utf8')
    const founded = /founded cluster lab \(([0-9a-f]+)\)/.exec(text)?.[1]
    const table = /cluster lab \(([0-9a-f]+)\):/.exec(text)?.[1]
    assert.ok(founded, text)
    assert.equal(table, founded, text)
    const ids = new Set([...text.matchAll(/cluster \S+ \(([0-9a-f]{16})\)/g)].map((m) => m[1]))
    assert.deepEqual([...ids], [founded], 'every cluster id printed is the same')
  })
})
