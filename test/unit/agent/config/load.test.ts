import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { loadConfig } from '../../../../agent/config/load.js'
import { HomecloudError } from '../../../../agent/core/errors.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-config-'))
after(() => rm(dir, { recursive: true, force: true }))

async function rejects(text: string, field: RegExp): Promise<void> {
  const path = join(dir, `c${Math.random()}.json`)
  await writeFile(path, text)
  await assert.rejects(loadConfig(path, {}), (err: unknown) => {
    assert.ok(err instanceof HomecloudError)
    assert.equal(err.code, 'CONFIG_INVALID')
    assert.match(err.message, field)
    return true
  })
}

describe('agent config', () => {
  it('fills defaults: ports, mDNS on, empty bootstrap', async () => {
    const c = await loadConfig(undefined, {})
    assert.deepEqual(c.ports, { api: 7080, https: 7444, tls: 7443, dht: 49737, contact: 7081, release: 7082 })
    assert.deepEqual(c.bootstrap, [])
    assert.equal(c.mdns, true)
  })

  it('parses bootstrap peers with and without keys', async () => {
    const key = 'ab'.repeat(32)
    const c = await loadConfig(undefined, { bootstrap: ['10.0.0.2:49737', `${key}@10.0.0.3:49737`] })
    assert.deepEqual(c.bootstrap, [
      { host: '10.0.0.2', port: 49737 },
      { host: '10.0.0.3', port: 49737, key },
    ])
  })

  it('names the bad field and refuses unknown ones', async () => {
    await rejects('{"host": "my-laptop"}', /host: host must be an IPv4 address/)
    await rejects('{"ports": {"api": 70000}}', /ports\.api/)
    await rejects('{"bootstrap": ["nowhere"]}', /bootstrap\.0/)
    await rejects('{"mesh": {"probeIntervalMs": 1}}', /mesh\.probeIntervalMs/)
    await rejects('{"hots": "10.0.0.1"}', /hots|unrecognized/i)
  })

  it('says when the file is not JSON or not there', async () => {
    await rejects('{ nope', /not valid JSON/)
    await assert.rejects(loadConfig(join(dir, 'missing.json'), {}), /cannot read config/)
  })
})
