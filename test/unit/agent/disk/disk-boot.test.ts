import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import { defaultNodeName, diskBoot } from '../../../../agent/disk/disk-boot.js'
import { readClusterFile } from '../../../../agent/state/cluster-file.js'

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function disk(firstBoot: unknown, material?: unknown): Promise<{ boot: string; state: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hc-disk-boot-'))
  dirs.push(root)
  const boot = join(root, 'boot')
  const state = join(root, 'state')
  await mkdir(boot)
  await mkdir(state, { mode: 0o700 })
  if (firstBoot !== undefined)
    await writeFile(
      join(boot, 'first-boot.json'),
      typeof firstBoot === 'string' ? firstBoot : JSON.stringify(firstBoot),
    )
  if (material !== undefined) await writeFile(join(boot, 'join.json'), JSON.stringify(material))
  return { boot, state }
}

const input = (d: { boot: string; state: string }, host = '10.77.0.5') => ({
  bootDir: d.boot,
  stateDir: d.state,
  host,
  mac: '52:54:00:AB:cd:0f',
  configExtra: {},
  clock: systemClock(),
})

describe('disk boot: the first boot founds or joins, every boot writes the config', () => {
  it('founds once with the settings, then only rewrites the config with the new address', async () => {
    const d = await disk({ v: 1, mode: 'found', clusterName: 'attic', joinPolicy: 'approve' })
    const first = await diskBoot(input(d))
    assert.equal(first.name, 'hc-abcd0f')
    const cluster = await readClusterFile(join(d.state, 'cluster.json'))
    assert.equal(cluster?.name, 'attic')
    assert.equal(cluster?.joinPolicy, 'approve')
    const text = first.lines.join('\n')
    assert.match(text, /founded cluster attic/)
    assert.match(text, /status page password: \S{8,}/)
    assert.match(text, /join policy: approve/)
    assert.match(text, /status page: http:\/\/10\.77\.0\.5:7080\//)
    const second = await diskBoot(input(d, '10.77.0.9'))
    assert.doesNotMatch(second.lines.join('\n'), /founded|password/)
    assert.equal((await readClusterFile(join(d.state, 'cluster.json')))?.id, cluster?.id)
    assert.deepEqual(JSON.parse(await readFile(join(d.state, 'config.json'), 'utf8')), {
      host: '10.77.0.9',
      name: 'hc-abcd0f',
      slots: { backend: 'grub' },
    })
    assert.equal((await stat(join(d.state, 'config.json'))).mode & 0o777, 0o600)
  })

  it('joins with the join material from the boot partition (kept private), founding nothing', async () => {
    const material = { v: 1, clusterId: 'b16340a7ecf1a854', clusterName: 'home', secret: 'a'.repeat(64) }
    const d = await disk({ v: 1, mode: 'join', nodeName: 'den' }, material)
    const r = await diskBoot(input(d))
    assert.equal(r.name, 'den')
    assert.match(r.lines.join('\n'), /joining the cluster/)
    assert.equal(await readClusterFile(join(d.state, 'cluster.json')), null)
    assert.equal(JSON.parse(await readFile(join(d.state, 'join.json'), 'utf8')).clusterId, material.clusterId)
    assert.equal((await stat(join(d.state, 'join.json'))).mode & 0o777, 0o600)
  })

  it('refuses malformed settings, join without material, and a bad config extra, writing nothing', async () => {
    const cases: [unknown, unknown, Record<string, unknown>, RegExp][] = [
      ['{"v":1,"mode":"found",', undefined, {}, /first-boot settings/],
      [{ v: 1, mode: 'found', clusterName: 'Not A Name' }, undefined, {}, /first-boot settings/],
      [{ v: 1, mode: 'found', extra: 1 }, undefined, {}, /first-boot settings/],
      [{ v: 1, mode: 'join' }, undefined, {}, /holds no valid join material/],
      [{ v: 1, mode: 'join' }, { v: 1, clusterId: 'x' }, {}, /holds no valid join material/],
    ]
    for (const [fb, material, extra, msg] of cases) {
      const d = await disk(fb, material)
      await assert.rejects(diskBoot({ ...input(d), configExtra: extra }), (e: HomecloudError) => {
        assert.equal(e.code, 'FIRST_BOOT_INVALID')
        assert.match(e.message, msg)
        return true
      })
      assert.equal(await readClusterFile(join(d.state, 'cluster.json')), null)
    }
    const d = await disk({ v: 1, mode: 'found' })
    await assert.rejects(diskBoot({ ...input(d), configExtra: { ports: { api: 'x' } } }), /agent config/)
    assert.equal(await readClusterFile(join(d.state, 'cluster.json')), null)
  })

  it('names a node after its MAC when the settings do not', () => {
    assert.equal(defaultNodeName('52:54:00:12:34:56'), 'hc-123456')
  })
})
