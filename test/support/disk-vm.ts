import { createHash } from 'node:crypto'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { MANIFEST_FILE, readImage } from '../../agent/netboot/manifest.js'
import {
  type DiskLayout,
  diskLayout,
  type Partition,
  partition,
  SECTOR_BYTES,
} from '../../agent/slots/disk-layout.js'
import { type GrubEnv, parseGrubEnv } from '../../agent/slots/grubenv.js'
import { SLOT_FILE } from '../../agent/slots/slot-files.js'
import { SlotContent } from '../../agent/slots/types.js'
import { OVMF_CODE } from '../../lab/netboot/qemu.js'
import { LAB_ENV } from '../../lab/processes.js'

// A homecloud disk in a real qemu (TCG, SeaBIOS, the disk's own GRUB): built with the
// real `homecloud image disk`, booted once per qemu run (-no-reboot: a reboot ends the
// run), and read back between boots from the image file with mtools, as another
// computer would read the card.

export const slotMiB = 128
export const stateMiB = 256
export const layoutOf = (): DiskLayout => diskLayout({ arch: 'amd64', slotMiB, stateMiB })

const mtoolsEnv = { MTOOLS_SKIP_CHECK: '1' }
const at = (image: string, p: Partition) => `${image}@@${p.startSector * SECTOR_BYTES}`

/** A file from a FAT partition of the image, or null when it is not there. */
export async function readFat(image: string, name: Partition['name'], path: string): Promise<Buffer | null> {
  const r = await execa('mtype', ['-i', at(image, partition(layoutOf(), name)), `::${path}`], {
    env: mtoolsEnv,
    encoding: 'buffer',
    reject: false,
  })
  return r.exitCode === 0 ? Buffer.from(r.stdout) : null
}

export async function readDiskGrubEnv(image: string): Promise<GrubEnv> {
  const bytes = await readFat(image, 'boot', '/grub/grubenv')
  if (!bytes) throw new Error('no grub/grubenv on the boot partition')
  const r = parseGrubEnv(bytes)
  if (!r.ok) throw new Error(`grubenv: ${r.error}`)
  return r.env
}

export async function readDiskSlot(image: string, slot: 'a' | 'b'): Promise<SlotContent | null> {
  const bytes = await readFat(image, slot, `/${SLOT_FILE}`)
  return bytes ? SlotContent.parse(JSON.parse(bytes.toString('utf8'))) : null
}

/**
 * A release whose kernel panics at once: the good release's kernel with an initramfs
 * that holds no /init (the kernel then looks for a root filesystem, finds none, and
 * panics; panic=-1 on grub.cfg's command line reboots it). Version `bad-<hash>`.
 */
export async function panickingRelease(good: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  await symlink(join(good, 'vmlinuz'), join(dir, 'vmlinuz'))
  const cpio = await execa('cpio', ['--create', '--format=newc', '--quiet'], {
    input: '',
    encoding: 'buffer',
  })
  const initrd = (await execa('gzip', ['-9n'], { input: Buffer.from(cpio.stdout), encoding: 'buffer' }))
    .stdout
  await writeFile(join(dir, 'initrd.img'), initrd)
  const manifest = (await readImage(good)).manifest
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
  const kernel = await readFile(join(good, 'vmlinuz'))
  const files = {
    vmlinuz: { sha256: sha(kernel), bytes: kernel.length },
    'initrd.img': { sha256: sha(initrd), bytes: initrd.length },
  }
  const { files: _f, kube: _k, ...rest } = manifest as typeof manifest & { kube?: unknown }
  const bad = { ...rest, version: `bad-${sha(initrd).slice(0, 12)}`, files }
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(bad, null, 2)}\n`)
  return dir
}

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export interface DiskVm {
  /** Resolves when qemu ends (the guest rebooted or powered off, or it was killed). */
  done: ResultPromise
  /** qemu has ended. */
  ended(): boolean
  console: string
  apiPort: number
  kill(): void
}

/**
 * One power-on of the disk: SeaBIOS, the disk's GRUB, whatever it boots. User-mode
 * networking with restrict=on (the guest reaches nothing outside qemu) and the guest's
 * port 7080 forwarded to `apiPort` on loopback. `dir` marks the process for the reaper.
 */
export function bootDisk(opts: {
  image: string
  console: string
  apiPort: number
  dir: string
  /** UEFI (OVMF) with this writable copy of OVMF_VARS; default SeaBIOS. */
  ovmfVars?: string
}): DiskVm {
  const args = [
    '--signal=KILL',
    '600s',
    'qemu-system-x86_64',
    '-machine',
    'q35,accel=tcg',
    '-m',
    '1024',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${opts.console}`,
    '-no-reboot',
    '-drive',
    `file=${opts.image},format=raw,if=virtio`,
    '-nic',
    `user,model=virtio-net-pci,mac=52:54:00:d1:5c:01,restrict=on,hostfwd=tcp:127.0.0.1:${opts.apiPort}-:7080`,
  ]
  if (opts.ovmfVars)
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${opts.ovmfVars}`,
    )
  const done = execa('timeout', args, { reject: false, env: { ...process.env, [LAB_ENV]: opts.dir } })
  let ended = false
  void done.finally(() => {
    ended = true
  })
  // TERM: timeout passes it on to qemu, which stops at once (a power cut for the guest).
  return {
    done,
    ended: () => ended,
    console: opts.console,
    apiPort: opts.apiPort,
    kill: () => done.kill('SIGTERM'),
  }
}

export const consoleOf = async (vm: DiskVm) =>
  (await readFile(vm.console, 'utf8').catch(() => '')).replace(/\r/g, '')
