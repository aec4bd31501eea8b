import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import {
  defaultBoardsDir,
  listProfiles,
  loadProfile,
  profileFacts,
  seededMac,
} from '../../../../agent/facts/profiles.js'
import { Facts } from '../../../../agent/facts/schema.js'

const SHIPPED = ['opi5', 'pi4', 'pi4-ssd', 'pi5', 'pi5-netboot', 'rock5b', 'x86', 'x86-hdd']

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-profiles-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('the default boards directory is found from the package root', async () => {
  assert.match(defaultBoardsDir(), /agent[/\\]facts[/\\]boards$/)
  for (const name of SHIPPED) assert.ok((await listProfiles()).includes(name), name)
})

test('every shipped profile parses and gives valid Facts', async () => {
  for (const name of await listProfiles()) {
    const p = await loadProfile(name)
    assert.equal(p.name, name)
    assert.ok(
      p.ramOnly || p.storage.some((d) => d.class === p.dataStorageClass),
      `${name}: data class has a device (or its state is in RAM)`,
    )
    const f = profileFacts(p, { seed: 'node-a', dataDir: '/var/lib/homecloud' })
    Facts.parse(f)
    assert.equal(f.source, `profile:${name}`)
    assert.deepEqual(f.fsync, {
      path: '/var/lib/homecloud',
      samples: 0,
      p50Ms: p.fsyncP50Ms,
      p99Ms: p.fsyncP99Ms,
    })
  }
})

test('the shipped profiles say what the scheduler needs to know', async () => {
  const pi4 = await loadProfile('pi4')
  assert.equal(pi4.dataStorageClass, 'sd')
  assert.ok(pi4.fsyncP99Ms > 10, 'an SD-card Pi 4 fails the etcd fsync probe')
  assert.ok((await loadProfile('pi4-ssd')).fsyncP99Ms < 10)
  assert.equal((await loadProfile('pi5')).dataStorageClass, 'nvme')
  assert.equal((await loadProfile('rock5b')).cores, 8)
  assert.equal((await loadProfile('x86')).arch, 'amd64')
  assert.equal((await loadProfile('x86-hdd')).dataStorageClass, 'hdd')
  // A netbooted Pi without a disk: fast "fsync" (RAM), but its state is lost at power-off.
  const ram = await loadProfile('pi5-netboot')
  assert.equal(ram.ramOnly, true)
  assert.equal(profileFacts(ram, { seed: 's', dataDir: '/d' }).ramOnly, true)
  assert.equal(profileFacts(pi4, { seed: 's', dataDir: '/d' }).ramOnly, false)
})

test('an unknown profile lists the known names', async () => {
  await assert.rejects(loadProfile('pi9'), (err: unknown) => {
    assert.ok(err instanceof HomecloudError)
    assert.equal(err.code, 'PROFILE_UNKNOWN')
    assert.match(err.message, /pi9/)
    for (const name of SHIPPED) assert.match(err.hint ?? '', new RegExp(`\\b${name}\\b`))
    return true
  })
})

test('a profile name cannot climb out of the directory', async () => {
  await assert.rejects(loadProfile('../package'), { code: 'PROFILE_UNKNOWN' })
})

test('a malformed profile names the file and the field', async () => {
  await withTmp(async (dir) => {
    const good = JSON.parse(await readFile(join(defaultBoardsDir(), 'pi4.json'), 'utf8'))
    await writeFile(join(dir, 'good.json'), JSON.stringify(good))
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...good, cores: 'four' }))
    await writeFile(join(dir, 'typo.json'), JSON.stringify({ ...good, memoryMb: 1 }))
    await writeFile(
      join(dir, 'disk.json'),
      JSON.stringify({ ...good, storage: [{ name: 'sda', class: 'floppy', sizeGB: 1 }] }),
    )
    await writeFile(join(dir, 'broken.json'), '{ "board": ')

    assert.deepEqual(await listProfiles(dir), ['bad', 'broken', 'disk', 'good', 'typo'])
    assert.equal((await loadProfile('good', dir)).cores, 4)
    const expectError = async (name: string, field: RegExp): Promise<void> => {
      await assert.rejects(loadProfile(name, dir), (err: unknown) => {
        assert.ok(err instanceof HomecloudError)
        assert.equal(err.code, 'CONFIG_INVALID')
        assert.ok(err.message.includes(join(dir, `${name}.json`)), err.message)
        assert.match(err.message, field)
        return true
      })
    }
    await expectError('bad', /cores/)
    await expectError('typo', /memoryMb/)
    await expectError('disk', /storage\.0\.class/)
    await expectError('broken', /not valid JSON/)
  })
})

test('profileFacts is deterministic in the seed', async () => {
  const p = await loadProfile('pi4')
  const a1 = profileFacts(p, { seed: 'node-a', dataDir: '/d' })
  const a2 = profileFacts(p, { seed: 'node-a', dataDir: '/d' })
  const b = profileFacts(p, { seed: 'node-b', dataDir: '/d' })
  assert.deepEqual(a1, a2)
  assert.notDeepEqual(a1.macs, b.macs)
  assert.deepEqual(a1.macs, [seededMac('node-a')])
})

test('seededMac is a locally administered unicast MAC', () => {
  const mac = seededMac('anything')
  assert.match(mac, /^02(:[0-9a-f]{2}){5}$/)
  assert.equal(seededMac('anything'), mac)
  // sha256('') starts e3b0c44298...
  assert.equal(seededMac(''), '02:e3:b0:c4:42:98')
})
