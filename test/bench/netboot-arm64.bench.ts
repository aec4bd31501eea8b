// Netboot on arm64: a qemu-system-aarch64 VM (TCG on this x86 host: every instruction is
// translated, so each stage is far slower than on an arm64 board) from power-on to
// member alive on every node, split by stage like the amd64 numbers (firmware PXE →
// TFTP GRUB → HTTP kernel → /init → agent), and the image sizes of both architectures.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { readImage } from '../../agent/netboot/manifest.js'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { labAddVm, waitVmJoined } from '../../lab/netboot/vm.js'
import { benchLab } from './lab.js'
import { stageRows } from './netboot-stages.js'
import type { BenchContext, Row } from './types.js'

export const name = 'netboot-arm64'

const MB = (bytes: number) => Math.round(bytes / 1e5) / 10

/** Per architecture: what every machine downloads, and what the nodes serve only to firmware (GRUB, Pi). */
async function sizeRows(arch: 'amd64' | 'arm64', dir: string): Promise<Row[]> {
  const image = await readImage(dir)
  const rows: Row[] = []
  let perMachine = 0
  let firmware = 0
  for (const [f, meta] of Object.entries(image.manifest.files)) {
    const bytes = (await stat(join(dir, f))).size
    if (meta.firmware) firmware += bytes
    else {
      perMachine += bytes
      rows.push({ metric: `${arch} image: ${f}`, value: MB(bytes), unit: 'MB' })
    }
  }
  rows.push({ metric: `${arch} image: total download per machine`, value: MB(perMachine), unit: 'MB' })
  if (firmware > 0)
    rows.push({
      metric: `${arch} image: boot firmware (GRUB, Raspberry Pi 4 and 5 files)`,
      value: MB(firmware),
      unit: 'MB',
    })
  return rows
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) {
    return [
      {
        metric: 'netboot arm64 (needs root: namespaces, taps, dnsmasq)',
        value: null,
        unit: '',
        note: 'skipped',
      },
    ]
  }
  const amd64 = await ensureNetbootImage((l) => ctx.progress(l), { arch: 'amd64' })
  const arm64 = await ensureNetbootImage((l) => ctx.progress(l), { arch: 'arm64' })
  const rows = [...(await sizeRows('amd64', amd64)), ...(await sizeRows('arm64', arm64))]
  const lab = await benchLab(ctx, 'netboot-arm64', {
    nodes: 2,
    netns: true,
    netboot: true,
    imageDir: amd64,
    netbootArchs: ['amd64', 'arm64'],
  })
  try {
    const vm = await labAddVm(lab.dir, { arch: 'arm64', wait: false, lifetimeSeconds: 3600 })
    ctx.progress(`arm64: ${vm.name} powered on; waiting until it is alive on every node`)
    await waitVmJoined(lab.lab, vm.name, 2_400_000, (l) => ctx.progress(`arm64: ${l}`))
    rows.push(
      ...(await stageRows(
        'arm64 UEFI (TCG)',
        { stage: 'grub', what: 'TFTP GRUB + GRUB' },
        lab.lab,
        vm,
        Date.now(),
      )),
    )
  } catch (err) {
    ctx.fail('netboot arm64', err)
  } finally {
    await lab.close()
  }
  return rows
}
