import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { packageRoot } from '../../../agent/core/package-root.js'

// A child writes to a pipe whose reader has gone (tee after Ctrl-C), then does its real
// work: with survivePipeClose it finishes; without, the EPIPE kills it first.
function runChild(guard: boolean): Promise<{ code: number | null; stderr: string }> {
  const pipes = join(packageRoot(), 'cli', 'pipes.ts')
  const script = `
    ${guard ? `const { survivePipeClose } = await import(${JSON.stringify(pipes)}); survivePipeClose({ stdout: process.stdout });` : ''}
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < 100; i++) process.stdout.write('line ' + i + '\\n')
    await new Promise((r) => setTimeout(r, 200))
    process.stderr.write('finished the work\\n')`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.destroy() // the reader goes away before the first write
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })))
}

test('a closed output pipe does not stop the command', async () => {
  const guarded = await runChild(true)
  assert.equal(guarded.code, 0, guarded.stderr)
  assert.match(guarded.stderr, /finished the work/)
  const bare = await runChild(false)
  assert.notEqual(bare.code, 0, 'without the guard EPIPE is fatal (the bug this prevents)')
  assert.doesNotMatch(bare.stderr, /finished the work/)
})
