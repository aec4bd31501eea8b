import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { processEnded } from '../../../lab/processes.js'

// The lab's "has this agent died?" check: by /proc state, never by environment, so a child
// caught between fork and exec is not taken for dead.
describe('processEnded', () => {
  it('is false for a running child, true once it died (zombie or reaped), true for no such pid', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' })
    await once(child, 'spawn')
    const pid = child.pid as number
    assert.equal(await processEnded(pid), false)
    child.kill('SIGKILL')
    await once(child, 'exit')
    assert.equal(await processEnded(pid), true)
    assert.equal(await processEnded(2 ** 22 + 1), true)
  })
})
