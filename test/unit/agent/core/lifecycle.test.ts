import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Component, startInOrder } from '../../../../agent/core/lifecycle.js'
import { silentLogger } from '../../../../agent/core/log.js'

function recorder() {
  const log: string[] = []
  const part = (name: string, o: { failStart?: boolean; failStop?: boolean } = {}): Component => ({
    name,
    async start() {
      if (o.failStart) throw new Error(`${name} cannot start`)
      log.push(`start ${name}`)
    },
    async stop() {
      log.push(`stop ${name}`)
      if (o.failStop) throw new Error(`${name} cannot stop`)
    },
  })
  return { log, part }
}

describe('component lifecycle', () => {
  it('starts in order and stops in reverse, once however often stop is called', async () => {
    const { log, part } = recorder()
    const started = await startInOrder([part('a'), part('b'), part('c')], silentLogger())
    await Promise.all([started.stop(), started.stop()])
    await started.stop()
    assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
  })

  it('a failed start stops what started, in reverse, and rethrows', async () => {
    const { log, part } = recorder()
    await assert.rejects(
      startInOrder([part('a'), part('b'), part('c', { failStart: true }), part('d')], silentLogger()),
      /c cannot start/,
    )
    assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a'])
  })

  it('a failed stop does not keep the others running', async () => {
    const { log, part } = recorder()
    const started = await startInOrder([part('a'), part('b', { failStop: true }), part('c')], silentLogger())
    await started.stop()
    assert.deepEqual(log.slice(3), ['stop c', 'stop b', 'stop a'])
  })
})
