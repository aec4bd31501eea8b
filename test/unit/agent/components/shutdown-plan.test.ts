import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type HowItRuns, shutdownPlan } from '../../../../agent/components/shutdown-plan.js'
import { ShutdownBody } from '../../../../agent/components/shutdown-routes.js'

// What `homecloud shutdown` does after the drain, by how the agent runs — and what it
// refuses before draining anything.

const plan = (h: Partial<HowItRuns>) =>
  shutdownPlan({ name: 'x86-4', backend: 'none', systemd: false, poweroff: false, ...h })

describe('homecloud shutdown: what happens after the drain', () => {
  test('the agent alone stops where nothing starts it again at once', () => {
    assert.deepEqual(plan({}), { powerOff: null })
    assert.deepEqual(plan({ systemd: true }), { powerOff: null })
  })

  test('--poweroff powers the machine off as its init does', () => {
    assert.deepEqual(plan({ poweroff: true, systemd: true }), {
      powerOff: { argv: ['systemctl', 'poweroff'] },
    })
    assert.deepEqual(plan({ poweroff: true, backend: 'netboot' }), { powerOff: { argv: ['poweroff', '-f'] } })
    assert.deepEqual(plan({ poweroff: true, backend: 'grub' }), { powerOff: { argv: ['poweroff', '-f'] } })
    assert.deepEqual(plan({ poweroff: true, backend: 'lab' }), { powerOff: { signalParent: 'SIGTERM' } })
  })

  test('refused up front: no machine to power off, or an init that starts the agent again', () => {
    const byHand = plan({ poweroff: true })
    assert.ok('refused' in byHand)
    assert.match(byHand.refused, /x86-4's agent was started by hand/)
    assert.match(byHand.hint, /leave out --poweroff/)
    for (const backend of ['netboot', 'grub', 'lab'] as const) {
      const p = plan({ backend })
      assert.ok('refused' in p, backend)
      assert.match(p.hint, /add --poweroff/)
    }
  })

  test('a request is a bounded timeout and poweroff, nothing else', () => {
    assert.deepEqual(ShutdownBody.parse({}), { poweroff: false })
    assert.equal(ShutdownBody.safeParse({ timeoutMs: 10 }).success, false)
    assert.equal(ShutdownBody.safeParse({ timeoutMs: 3_600_000 }).success, false)
    assert.equal(ShutdownBody.safeParse({ poweroff: 'yes' }).success, false)
    assert.equal(ShutdownBody.safeParse({ node: 'x86-5' }).success, false)
  })
})
