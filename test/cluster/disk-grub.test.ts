import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'
import { emptyGrubBook, GrubBook, settleGrub } from '../../agent/slots/grub-state.js'
import * as tries from '../../agent/slots/tries.js'
import type { BootState } from '../../agent/slots/types.js'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { OVMF_VARS } from '../../lab/netboot/qemu.js'
import {
  bootDisk,
  consoleOf,
  type DiskVm,
  freePort,
  panickingRelease,
  readDiskGrubEnv,
  readDiskSlot,
  readFat,
  slotMiB,
  stateMiB,
} from '../support/disk-vm.js'
import { testLabPrefix } from '../support/lab.js'

// A machine with a homecloud disk, for real: the image from `homecloud image disk`,
// SeaBIOS, the disk's own GRUB (Debian's, images/disk/grub.sh) running the generated
// grub.cfg, the real kernel, /init's disk mode and the agent. Slot a holds the good
// release; slot b a release whose kernel panics at once, being tried twice. GRUB alone
// must try b twice, then give it up and boot a — each boot's grubenv, read back from
// the image, being what tries.ts boot() says — and a's first boot founds a cluster,
// telling the console its status URL and join policy.

const root = process.getuid?.() === 0
const triesGiven = 2

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  const r = await f()
  process.stderr.write(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  return r
}

async function waitFor(vm: DiskVm, pattern: RegExp, what: string): Promise<string> {
  for (;;) {
    const text = await consoleOf(vm)
    if (pattern.test(text)) return text
    if (vm.ended()) throw new Error(`the VM stopped before ${what}; console:\n${text.slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

describe('a machine with a homecloud disk (its own GRUB, in qemu)', {
  skip: !root && 'needs root for mtools on the image and qemu',
}, () => {
  const vms: DiskVm[] = []
  let dir = ''
  after(async () => {
    for (const vm of vms) vm.kill()
    await Promise.all(vms.map((vm) => vm.done))
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('BIOS: GRUB tries the bad slot twice, falls back to the good one, which founds a cluster', async () => {
    dir = await mkdtemp(join(tmpdir(), `${testLabPrefix()}disk-`))
    const good = await timed('netboot image (cached by inputs)', () => ensureNetbootImage(() => {}))
    const bad = await panickingRelease(good, join(dir, 'bad-release'))
    const image = join(dir, 'disk.img')
    await makeImage(good, image, ['--try-slot-b', bad, '--tries', String(triesGiven)])

    // The model: what the image says, run through tries.ts boot() once per power-on.
    const slots = { a: await readDiskSlot(image, 'a'), b: await readDiskSlot(image, 'b') }
    assert.ok(slots.a && slots.b)
    assert.match(slots.b.version, /^bad-/)
    let model: BootState = {
      ...tries.provisionedBootState(slots.a),
      slots,
      trying: 'b',
      triesLeft: triesGiven,
    }
    // What GRUB left, with what the agent folded into its book beside grubenv (GrubBootSlots.load).
    const observe = async () => {
      const bookBytes = await readFat(image, 'boot', '/homecloud/slots.json')
      const book = bookBytes ? GrubBook.parse(JSON.parse(bookBytes.toString('utf8'))) : emptyGrubBook()
      return settleGrub({ env: await readDiskGrubEnv(image), slots, book }, 0).state
    }

    const port = await freePort()
    let clusterId = ''
    // Two tries of b, the fallback to a (its first boot), and a's second boot after a power cut.
    for (let n = 1; n <= triesGiven + 2; n++) {
      const expected = tries.boot(model, 0)
      const vm = bootDisk({ image, console: join(dir, `console-${n}.log`), apiPort: port, dir })
      vms.push(vm)
      if (expected.slot === 'b') {
        // The bad kernel panics and reboots; -no-reboot ends the run there.
        await timed(`boot ${n}: slot b until its panic`, () => vm.done)
        const text = await consoleOf(vm)
        assert.match(
          text,
          new RegExp(`homecloud: slot b \\(trying, tries left ${expected.state.triesLeft}\\)`),
        )
        assert.match(text, /Kernel panic/)
      } else if (expected.mode === 'fallback') {
        const text = await foundsCluster(vm, port, `boot ${n}`)
        assert.match(text, /homecloud: slot a \(fallback, tries left 0\)/)
        clusterId = text.match(/founded cluster home \(([0-9a-f]{16})\)/)?.[1] ?? ''
      } else {
        // The state partition kept the cluster through the power cut: no second founding.
        const text = await timed(`boot ${n}: slot a again until the agent starts`, () =>
          waitFor(vm, /homecloud: starting the agent/, 'the agent started'),
        )
        assert.match(text, /homecloud: slot a \(good, tries left 0\)/)
        assert.doesNotMatch(text, /founded|password/)
        assert.match(text, new RegExp(`homecloud: cluster home \\(${clusterId}\\); join policy: approve`))
        const view = await timed(`boot ${n}: until the API answers`, () => apiView(port, vm))
        assert.equal(view.cluster.id, clusterId)
        vm.kill()
        await vm.done
      }
      // Each boot's choice, read back from the disk, is boot()'s.
      const seen = await observe()
      assert.equal(seen.booted, expected.slot, `boot ${n}: GRUB booted ${seen.booted}`)
      assert.deepEqual(
        [seen.good, seen.trying, seen.triesLeft, seen.boots, seen.lastFallback?.slot ?? null],
        [
          expected.state.good,
          expected.state.trying,
          expected.state.triesLeft,
          expected.state.boots,
          expected.state.lastFallback?.slot ?? null,
        ],
        `boot ${n} (${expected.mode})`,
      )
      model = expected.state
    }
    assert.equal(model.lastFallback?.releaseId, slots.b.releaseId)
  })

  it('UEFI: OVMF boots the same disk through its GRUB EFI image, and slot a founds a cluster', async () => {
    const dir = await mkdtemp(join(tmpdir(), `${testLabPrefix()}disk-uefi-`))
    let vm: DiskVm | null = null
    try {
      const image = join(dir, 'disk.img')
      await makeImage(await ensureNetbootImage(() => {}), image, [])
      const vars = join(dir, 'OVMF_VARS.fd')
      await copyFile(OVMF_VARS, vars)
      vm = bootDisk({
        image,
        console: join(dir, 'console.log'),
        apiPort: await freePort(),
        dir,
        ovmfVars: vars,
      })
      const text = await foundsCluster(vm, vm.apiPort, 'UEFI boot')
      assert.match(text, /homecloud: slot a \(good, tries left 0\)/)
      assert.equal((await readDiskGrubEnv(image)).hc_booted, 'a')
    } finally {
      vm?.kill()
      await vm?.done
      await rm(dir, { recursive: true, force: true })
    }
  })
})

async function makeImage(release: string, image: string, extra: string[]): Promise<void> {
  const cli = join(packageRoot(), 'bin', 'homecloud.js')
  await timed('disk image (GRUB images cached by inputs)', () =>
    execa(process.execPath, [
      cli,
      'image',
      'disk',
      '--release',
      release,
      '--out',
      image,
      '--slot-mb',
      String(slotMiB),
      '--state-mb',
      String(stateMiB),
      '--join-policy',
      'approve',
      ...extra,
    ]),
  )
}

/** Slot a's first boot: the console says what a person needs, and the agent answers with the cluster it founded. */
async function foundsCluster(vm: DiskVm, port: number, what: string): Promise<string> {
  const text = await timed(`${what}: until the agent starts`, () =>
    waitFor(vm, /homecloud: starting the agent/, 'the agent started'),
  )
  assert.match(text, /homecloud: first boot: founded cluster home \([0-9a-f]{16}\)/)
  assert.match(text, /homecloud: cluster home \([0-9a-f]{16}\); join policy: approve/)
  assert.match(text, /homecloud: status page: http:\/\/10\.0\.2\.15:7080\//)
  assert.match(text, /homecloud: status page password: \S+/)
  const id = text.match(/founded cluster home \(([0-9a-f]{16})\)/)?.[1]
  // The agent answers on its status port with the cluster it founded, itself alive in it.
  const view = await timed(`${what}: until the API answers`, () => apiView(port, vm))
  assert.equal(view.cluster.id, id)
  assert.equal(view.members.find((m) => m.self)?.state, 'alive')
  vm.kill()
  await vm.done
  return text
}

interface View {
  cluster: { id: string }
  members: { self?: boolean; state: string }[]
}

async function apiView(port: number, vm: DiskVm): Promise<View> {
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/cluster`, {
      signal: AbortSignal.timeout(3000),
    }).catch(() => null)
    if (r?.ok) {
      const v = (await r.json()) as View
      if (v.members.find((m) => m.self)?.state === 'alive') return v
    }
    if (vm.ended()) throw new Error(`the VM stopped:\n${(await consoleOf(vm)).slice(-3000)}`)
    await new Promise((res) => setTimeout(res, 1000))
  }
}
