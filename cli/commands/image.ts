import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { execa } from 'execa'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { FIRST_BOOT_FILE, FIRST_BOOT_JOIN_FILE, FirstBoot } from '../../agent/disk/first-boot.js'
import { slotMiBDefault, stateMiBDefault } from '../../agent/slots/disk-layout.js'
import { JoinMaterial } from '../../agent/trust/join-material.js'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { buildDiskImage } from '../image/disk.js'

// `homecloud image disk`: a disk image to write to an SD card, USB stick or SSD.

const progress = (line: string) => process.stderr.write(`  … ${line}\n`)

/** images/disk/grub.sh for the architecture: cached by its inputs. */
async function grubImages(arch: 'amd64' | 'arm64'): Promise<string> {
  const script = join(packageRoot(), 'images', 'disk', 'grub.sh')
  const r = await execa('bash', [script, '--arch', arch], { reject: false, stderr: 'inherit' })
  const dir = String(r.stdout).trim().split('\n').at(-1)
  if (r.exitCode !== 0 || !dir)
    throw new HomecloudError(
      'DISK_IMAGE_FAILED',
      `${script} failed (exit ${r.exitCode})`,
      'see its lines above',
    )
  return dir
}

interface DiskOpts {
  arch: 'amd64' | 'arm64'
  out: string
  release?: string
  kube?: boolean
  slotMb: number
  stateMb: number
  clusterName: string
  joinPolicy: 'auto' | 'approve'
  nodeName?: string
  join?: string
  netboot: boolean
  stateFrom?: string
  trySlotB?: string
  tries: number
}

async function firstBootFiles(opts: DiskOpts): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  const settings = FirstBoot.parse({
    v: 1,
    mode: opts.join ? 'join' : 'found',
    clusterName: opts.clusterName,
    joinPolicy: opts.joinPolicy,
    nodeName: opts.nodeName,
    netboot: opts.netboot,
  })
  files[FIRST_BOOT_FILE] = `${JSON.stringify(settings, null, 2)}\n`
  if (opts.join) {
    const parsed = JoinMaterial.safeParse(JSON.parse(await readFile(opts.join, 'utf8')))
    if (!parsed.success)
      throw new HomecloudError(
        'JOIN_MATERIAL_INVALID',
        `${opts.join} is not join material (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
        'use the join.json a founder wrote into its state directory',
      )
    files[FIRST_BOOT_JOIN_FILE] = `${JSON.stringify(parsed.data)}\n`
  }
  return files
}

export function imageCommand(): Command {
  const image = new Command('image').description('make images to boot machines from')
  image
    .command('disk')
    .description(
      'a disk image for an SD card, USB stick or SSD: A/B slots, first boot founds or joins a cluster',
    )
    .addOption(new Option('--arch <arch>', 'architecture').choices(['amd64', 'arm64']).default('amd64'))
    .requiredOption('--out <file>', 'the image file to write')
    .option('--release <dir>', 'the release for slot a (default: images/netboot/build.sh for --arch)')
    .option('--kube', 'with --release unset: the Kubernetes node image (kubelet, containerd)')
    .option('--slot-mb <n>', 'size of each slot partition', (v) => Number.parseInt(v, 10), slotMiBDefault)
    .option('--state-mb <n>', 'size of the state partition', (v) => Number.parseInt(v, 10), stateMiBDefault)
    .option('--cluster-name <name>', 'founding: the cluster name', 'home')
    .addOption(
      new Option('--join-policy <policy>', 'founding: how further machines get in')
        .choices(['auto', 'approve'])
        .default('auto'),
    )
    .option('--node-name <name>', "this machine's name (default hc-<last MAC bytes>)")
    .option('--join <join.json>', 'join this cluster at first boot instead of founding one')
    .option('--no-netboot', 'do not answer network boot on the LAN')
    .addOption(new Option('--state-from <dir>', 'copy a node state directory onto the disk').hideHelp())
    .addOption(new Option('--try-slot-b <dir>', 'tests: put this release in slot b, being tried').hideHelp())
    .addOption(
      new Option('--tries <n>', 'tests: tries for --try-slot-b')
        .argParser((v) => Number.parseInt(v, 10))
        .default(3)
        .hideHelp(),
    )
    .action(async (opts: DiskOpts) => {
      const started = systemClock().nowMs()
      const release =
        opts.release ?? (await ensureNetbootImage(progress, { arch: opts.arch, kube: opts.kube }))
      const grubDir = await grubImages(opts.arch)
      const out = resolve(opts.out)
      const layout = await buildDiskImage({
        arch: opts.arch,
        out,
        release: resolve(release),
        grubDir,
        slotMiB: opts.slotMb,
        stateMiB: opts.stateMb,
        bootFiles: await firstBootFiles(opts),
        stateFrom: opts.stateFrom,
        trySlotB: opts.trySlotB ? { release: resolve(opts.trySlotB), tries: opts.tries } : undefined,
        nowMs: systemClock().nowMs(),
        progress,
      })
      const mib = Math.round(layout.bytes / 1024 / 1024)
      const secs = ((systemClock().nowMs() - started) / 1000).toFixed(1)
      process.stdout.write(`${out}: ${mib} MiB disk image (${opts.arch}) written in ${secs} s\n`)
      process.stdout.write(
        `write it to a card or disk: sudo dd if=${out} of=/dev/sdX bs=4M conv=fsync status=progress\n`,
      )
    })
  return image
}
