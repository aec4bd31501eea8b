import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import { systemClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import type { Release } from '../../../../agent/release/manifest.js'
import { BUNDLE_FILE } from '../../../../agent/slots/bundle.js'
import { BOOT_FILE, LabSlots } from '../../../../agent/slots/lab.js'
import { readBootStateFile, writeBootStateFile } from '../../../../agent/slots/state-file.js'
import { boot, provisionedBootState } from '../../../../agent/slots/tries.js'

// The lab slot backend on real files: a real agent.tar.zst (tar + zstd), its sha256
// checked before anything is written, the try state forgotten before a slot is rewritten,
// and the firmware's decision (tries.boot) reading what the backend wrote.

let dir: string
const release = async (
  name: string,
  content: string,
  sha?: string,
): Promise<{ release: Release; dir: string }> => {
  const src = join(dir, `src-${name}`)
  const out = join(dir, `rel-${name}`)
  await mkdir(join(src, 'app'), { recursive: true })
  await mkdir(out, { recursive: true })
  await writeFile(join(src, 'app', 'VERSION'), content)
  await execa('tar', ['-I', 'zstd', '-cf', join(out, BUNDLE_FILE), '-C', src, '.'])
  const bytes = await readFile(join(out, BUNDLE_FILE))
  const sha256 = sha ?? createHash('sha256').update(bytes).digest('hex')
  const id = createHash('sha256').update(name).digest('hex')
  const manifest = { version: name, files: { [BUNDLE_FILE]: { sha256, bytes: bytes.length } } }
  return { release: { id, manifest, manifestBytes: Buffer.from('{}') } as unknown as Release, dir: out }
}

describe('lab boot slots', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-labslots-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('install → try → the firmware boots it → commit; a fall-back asks for a reboot', async () => {
    const slots = join(dir, 'slots')
    await mkdir(slots, { recursive: true })
    const v1 = await release('1', 'one')
    await writeBootStateFile(
      join(slots, BOOT_FILE),
      provisionedBootState({ releaseId: v1.release.id, version: '1', installedAtMs: 1 }),
    )
    let restarts = 0
    const lab = new LabSlots(slots, { clock: systemClock(), log: silentLogger(), restart: () => restarts++ })
    const v2 = await release('2', 'two')
    const r = await lab.install(v2)
    assert.equal(r.installed.b?.version, '2')
    assert.equal(await readFile(join(slots, 'b', 'app', 'VERSION'), 'utf8'), 'two')
    await lab.tryNext(2)
    // The firmware's power-on decision reads the same file.
    const file = join(slots, BOOT_FILE)
    const b = boot((await readBootStateFile(file))!, 10)
    assert.equal(b.slot, 'b')
    await writeBootStateFile(file, b.state)
    const good = await lab.markGood()
    assert.equal(good.good, 'b')
    assert.equal(good.committed, true)
    // A release that is tried and sent back: the node reboots into its good slot.
    await lab.install(await release('3', 'three'))
    await lab.tryNext(1)
    const b3 = boot((await readBootStateFile(file))!, 20)
    await writeBootStateFile(file, b3.state)
    await lab.fallBack()
    assert.equal(restarts, 1)
    assert.equal(boot((await readBootStateFile(file))!, 30).slot, 'b')
  })

  it('a bundle whose sha256 is not the manifest one is refused; the slots stay as they were', async () => {
    const slots = join(dir, 'slots2')
    await mkdir(slots, { recursive: true })
    const v1 = await release('1', 'one')
    await writeBootStateFile(
      join(slots, BOOT_FILE),
      provisionedBootState({ releaseId: v1.release.id, version: '1', installedAtMs: 1 }),
    )
    const lab = new LabSlots(slots, { clock: systemClock(), log: silentLogger(), restart: () => {} })
    const before = await readFile(join(slots, BOOT_FILE), 'utf8')
    await assert.rejects(
      lab.install(await release('2', 'two', '0'.repeat(64))),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'SLOT_FAILED')
        assert.match(e.message, /the manifest says/)
        return true
      },
    )
    const s = JSON.parse(await readFile(join(slots, BOOT_FILE), 'utf8'))
    assert.deepEqual(s.slots.a, JSON.parse(before).slots.a)
    assert.equal(s.slots.b, null)
  })
})
