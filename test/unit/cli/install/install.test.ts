import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { install } from '../../../../cli/install/install.js'
import { uninstall, whatWouldBeLost } from '../../../../cli/install/uninstall.js'
import { installPaths } from '../../../../cli/install/unit.js'

// Real files under a temporary root (systemctl is never called there): what install
// writes, what uninstall refuses, and that nothing is left. The agent itself runs in
// test/cluster/install.test.ts.

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tmpRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hc-install-'))
  dirs.push(d)
  return d
}
const base = {
  clusterName: 'home',
  nodeName: 'n1',
  host: '10.77.0.2',
  joinPolicy: 'auto' as const,
  start: false,
}
const code = (err: unknown) => (err instanceof HomecloudError ? err.code : String(err))

describe('homecloud install / uninstall (files only)', () => {
  it('founds a cluster, writes the unit and its link; uninstall refuses, then --force leaves nothing', async () => {
    const r = await tmpRoot()
    const done = await install({ ...base, root: r, password: 'correct horse battery' })
    assert.ok(done.founded)
    assert.equal(done.founded.password, undefined, 'a given password is not printed back')
    assert.equal(done.started, false)
    const p = installPaths(r)
    assert.deepEqual(JSON.parse(await readFile(p.config, 'utf8')), { name: 'n1' })
    assert.ok(existsSync(p.unit) && existsSync(p.wantsLink))
    await assert.rejects(install({ ...base, root: r }), (e) => code(e) === 'INSTALL_EXISTS')

    const lost = await whatWouldBeLost(p.stateDir)
    assert.equal(lost.length, 2, lost.join('\n'))
    await assert.rejects(uninstall({ root: r, force: false }), (e) => {
      assert.equal(code(e), 'UNINSTALL_REFUSED')
      assert.match((e as HomecloudError).message, /cluster CA key/)
      assert.match((e as HomecloudError).hint ?? '', /--force/)
      return true
    })
    assert.ok(existsSync(p.unit), 'a refusal removes nothing')
    const gone = await uninstall({ root: r, force: true })
    assert.equal(gone.lost.length, 2)
    assert.deepEqual(await readdir(r), [])
  })

  it('joining: copies checked join material; a node that never ran has nothing to lose, and uninstall needs no --force', async () => {
    const founder = await tmpRoot()
    await install({ ...base, root: founder })
    const r = await tmpRoot()
    await install({ ...base, root: r, join: join(installPaths(founder).stateDir, 'join.json') })
    const p = installPaths(r)
    assert.equal(existsSync(join(p.stateDir, 'cluster.json')), false, 'no cluster founded')
    assert.deepEqual(await whatWouldBeLost(p.stateDir), [])
    await uninstall({ root: r, force: false })
    assert.deepEqual(await readdir(r), [])
  })

  it('refuses join material that is missing or malformed, clearly', async () => {
    const r = await tmpRoot()
    await assert.rejects(install({ ...base, root: r, join: join(r, 'nope.json') }), (e) => {
      assert.equal(code(e), 'JOIN_MATERIAL_INVALID')
      assert.match((e as Error).message, /does not exist/)
      return true
    })
    await uninstall({ root: r, force: false })
    const bad = join(await tmpRoot(), 'join.json')
    await writeFile(bad, '{"clusterId": 5}')
    const r2 = await tmpRoot()
    await assert.rejects(
      install({ ...base, root: r2, join: bad }),
      (e) => code(e) === 'JOIN_MATERIAL_INVALID',
    )
  })

  it('leaves directories it did not create, and what others put beside its files', async () => {
    const r = await tmpRoot()
    await mkdir(join(r, 'etc', 'systemd', 'system'), { recursive: true })
    await writeFile(join(r, 'etc', 'systemd', 'system', 'other.service'), '[Unit]\n')
    await install({ ...base, root: r })
    await uninstall({ root: r, force: true })
    assert.deepEqual(await readdir(join(r, 'etc', 'systemd', 'system')), ['other.service'])
    assert.equal(existsSync(join(r, 'var')), false)
  })

  it('a tampered install record cannot make uninstall remove anything outside what install writes', async () => {
    const r = await tmpRoot()
    const outside = await tmpRoot()
    await writeFile(join(outside, 'keep'), 'x')
    await install({ ...base, root: r })
    const p = installPaths(r)
    const m = JSON.parse(await readFile(p.manifest, 'utf8'))
    m.files.push(join(outside, 'keep'))
    m.dirs.push(outside, r, '/')
    await writeFile(p.manifest, JSON.stringify(m))
    await uninstall({ root: r, force: true })
    assert.ok(existsSync(join(outside, 'keep')))
    assert.ok(existsSync(r))
  })

  it('says when nothing is installed', async () => {
    const r = await tmpRoot()
    await assert.rejects(uninstall({ root: r, force: true }), (e) => {
      assert.equal(code(e), 'UNINSTALL_REFUSED')
      assert.match((e as Error).message, /not installed/)
      return true
    })
  })
})
