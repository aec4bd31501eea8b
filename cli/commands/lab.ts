import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { Command } from 'commander'
import { HomecloudError } from '../../agent/core/errors.js'
import type { ImageArch } from '../../agent/netboot/arch.js'
import { type LabFile, readLabFile } from '../../lab/lab-file.js'
import {
  labAdd,
  labCut,
  labDown,
  labHeal,
  labKubeconfig,
  labPlug,
  labUnplug,
  labUp,
  nodeUrl,
} from '../../lab/launcher.js'
import { labAddVm } from '../../lab/netboot/vm.js'
import { isLabProcess } from '../../lab/processes.js'
import { fetchClusterView } from '../../lab/wait.js'
import { formatClusterView } from '../status.js'
import { renderTable } from '../table.js'

function defaultLabDir(): string {
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'homecloud', 'lab')
}

const progress = (line: string) => process.stderr.write(`  … ${line}\n`)

function summary(lab: LabFile) {
  return {
    dir: lab.dir,
    clusterId: lab.clusterId,
    nodes: lab.nodes.map((n) => ({ name: n.name, url: nodeUrl(n), address: n.address })),
  }
}

export function labCommand(): Command {
  const lab = new Command('lab').description(
    'a whole cluster on this machine, one agent process per simulated board',
  )
  const dirOpt: DirOpt = ['--dir <dir>', 'lab directory', defaultLabDir()]

  upCommand(lab, dirOpt)
  addCommand(lab, dirOpt)
  faultCommands(lab, dirOpt)
  firmwareCommand(lab)
  statusCommand(lab, dirOpt)
  accessCommands(lab, dirOpt)
  return lab
}

type DirOpt = readonly [string, string, string]

/** `lab up`: start, show, follow. */
function upCommand(lab: Command, dirOpt: DirOpt): void {
  lab
    .command('up')
    .description('start a lab and wait until every node sees every other')
    .option(...dirOpt)
    .option('--nodes <n>', 'number of nodes (cycles the default boards)', (v) => Number.parseInt(v, 10))
    .option('--boards <list>', 'comma-separated board profiles, e.g. pi5,pi5,pi4,x86,x86')
    .option('--netns', 'run each node in its own network namespace (root)')
    .option('--netboot', 'with --netns: every node answers netboot, so `lab add --vm` can boot a VM')
    .option('--image <dir>', 'netboot image directory (default: images/netboot/build.sh, cached)')
    .option(
      '--slots',
      'two boot slots per node, slot a = the image; the lab firmware boots them (homecloud upgrade)',
    )
    .option(
      '--netboot-arch <list>',
      'with --netboot: architectures to serve, e.g. amd64,arm64 (each image is built once, cached)',
      'amd64',
    )
    .option('--detach', 'return once the cluster is formed; last line is JSON')
    .option('--no-kube', 'mesh and etcd only: no Kubernetes control plane, Nodes or kwok')
    .action(async (opts) => {
      const started = Date.now()
      process.stderr.write(`starting lab in ${opts.dir}\n`)
      // From the first process on: Ctrl-C while starting leaves nothing running either.
      const signals = stopLabOnSignal(opts.dir)
      const l = await labUp({
        dir: opts.dir,
        nodes: opts.nodes,
        boards: opts.boards,
        netns: opts.netns,
        kube: opts.kube,
        netboot: opts.netboot,
        slots: opts.slots,
        imageDir: opts.image,
        netbootArchs: parseArchList(opts.netbootArch),
        progress,
      })
      process.stderr.write(`cluster formed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
      for (const n of l.nodes) process.stdout.write(`${n.name.padEnd(12)} ${nodeUrl(n)}\n`)
      process.stderr.write(
        `status page password (for actions): ${join(l.dir, 'password.txt')}; admin client config: ${join(l.dir, 'admin.json')}\n`,
      )
      if (opts.detach) {
        signals.release()
        process.stdout.write(`${JSON.stringify(summary(l))}\n`)
        return
      }
      await followLab(l)
    })
}

/** `lab add`: a board or a netbooting VM. */
function addCommand(lab: Command, dirOpt: DirOpt): void {
  lab
    .command('add')
    .description('plug a new board into the lab')
    .option(...dirOpt)
    .option('--board <profile>', 'board profile', 'pi4-ssd')
    .option('--vm', 'a qemu VM that netboots from the lab (netns lab started with --netboot)')
    .option('--uefi', 'with --vm: UEFI firmware (OVMF) instead of BIOS')
    .option(
      '--arch <arch>',
      'with --vm: amd64, or arm64 (qemu-system-aarch64, UEFI + GRUB; slow under TCG)',
      'amd64',
    )
    .option('--kubelet', 'run the real kubelet + containerd on it, not kwok (netns lab, as root)')
    .option('--no-wait', 'return at once (a node waiting for approval never converges by itself)')
    .action(async (opts) => {
      if (opts.vm) {
        const [arch] = parseArchList(opts.arch)
        const vm = await labAddVm(opts.dir, { uefi: opts.uefi, arch, wait: opts.wait, progress })
        process.stdout.write(
          `${vm.name} ${opts.wait ? 'netbooted and joined' : 'powered on'} (console: ${vm.consoleLog})\n`,
        )
        return
      }
      const n = await labAdd(opts.dir, opts.board, { progress, wait: opts.wait, kubelet: !!opts.kubelet })
      process.stdout.write(`${n.name} ${opts.wait ? 'joined' : 'started'}: ${nodeUrl(n)}\n`)
    })
}

/** What happens to one node: unplug, plug, cut, heal. */
function faultCommands(lab: Command, dirOpt: DirOpt): void {
  lab
    .command('unplug <name>')
    .description('pull the plug on a node (SIGKILL, no warning)')
    .option(...dirOpt)
    .action(async (name, opts) => {
      await labUnplug(opts.dir, name)
      process.stdout.write(`${name} unplugged\n`)
    })
  lab
    .command('plug <name>')
    .description('power a node back on with its old state')
    .option(...dirOpt)
    .action(async (name, opts) => {
      const n = await labPlug(opts.dir, name)
      process.stdout.write(`${name} plugged back in: ${nodeUrl(n)}\n`)
    })
  lab
    .command('cut <name>')
    .description('cut a node off the network, leaving it running (namespace labs: its link goes down)')
    .option(...dirOpt)
    .action(async (name, opts) => {
      await labCut(opts.dir, name)
      process.stdout.write(`${name} cut off the network\n`)
    })
  lab
    .command('heal <name>')
    .description('put a cut node back on the network')
    .option(...dirOpt)
    .action(async (name, opts) => {
      await labHeal(opts.dir, name)
      process.stdout.write(`${name} back on the network\n`)
    })
}

/** Internal: what `lab up --slots` starts per node (lab/firmware.ts): it boots the agent
 * from the node's slots and boots again when it exits. Not for people to run. */
function firmwareCommand(lab: Command): void {
  lab
    .command('firmware', { hidden: true })
    .requiredOption('--slots <dir>', 'the node slots directory (boot.json, a/, b/)')
    .requiredOption('--state <dir>', 'the node state directory')
    .requiredOption('--config <file>', 'the agent config')
    .requiredOption('--log <file>', 'the agent log')
    .action(async (opts: { slots: string; state: string; config: string; log: string }) => {
      const { runFirmware } = await import('../../lab/firmware.js')
      const code = await runFirmware({
        slotsDir: opts.slots,
        stateDir: opts.state,
        configPath: opts.config,
        logPath: opts.log,
        firmwareLog: join(dirname(opts.slots), 'firmware.log'),
      })
      process.exit(code)
    })
}

/** `lab status`: every node's process and what it sees. */
function statusCommand(lab: Command, dirOpt: DirOpt): void {
  lab
    .command('status')
    .description('every lab node: process, and what it sees')
    .option(...dirOpt)
    .option('--json', 'machine-readable')
    .action(async (opts) => {
      const l = await readLabFile(opts.dir)
      const rows = await Promise.all(
        l.nodes.map(async (n) => {
          const running = n.pid !== null && (await isLabProcess(n.pid, l.dir))
          const view = running ? await fetchClusterView(nodeUrl(n)) : null
          const alive = view ? view.members.filter((m) => m.state === 'alive').length : 0
          return {
            name: n.name,
            board: n.board,
            address: n.address,
            running,
            sees: view ? `${alive}/${view.members.length} alive` : '-',
            url: nodeUrl(n),
          }
        }),
      )
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ...summary(l), status: rows }, null, 2)}\n`)
        return
      }
      process.stdout.write(`lab ${l.dir} (${l.mode}, cluster ${l.clusterId})\n`)
      process.stdout.write(
        `${renderTable(
          ['NODE', 'BOARD', 'ADDRESS', 'PROCESS', 'SEES', 'URL'],
          rows.map((r) => [r.name, r.board, r.address, r.running ? 'running' : 'unplugged', r.sees, r.url]),
        )}\n`,
      )
    })
}

/** The admin kubeconfig, and taking the lab down. */
function accessCommands(lab: Command, dirOpt: DirOpt): void {
  lab
    .command('kubeconfig')
    .description("the lab's admin kubeconfig, through one node's local API load balancer")
    .option(...dirOpt)
    .option('--node <name>', 'the node whose load balancer to use (default: the first running one)')
    .action(async (opts) => {
      process.stdout.write(await labKubeconfig(opts.dir, opts.node))
    })
  lab
    .command('down')
    .description('stop every process and remove every namespace and bridge of the lab')
    .option(...dirOpt)
    .action(async (opts) => {
      const { killed } = await labDown(opts.dir)
      process.stdout.write(`lab stopped (${killed} processes)\n`)
    })
}

/**
 * Until released, SIGINT, SIGTERM or SIGHUP takes the lab down and exits. Stopping must
 * not depend on the terminal or pipe still reading our output (see cli/pipes.ts): the
 * lab goes down first, and the message after it may be lost.
 */
function stopLabOnSignal(dir: string): { release(): void } {
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    process.stderr.write('\nstopping the lab…\n')
    let code = 0
    try {
      const { killed } = await labDown(dir)
      process.stderr.write(`lab stopped (${killed} processes)\n`)
    } catch (err) {
      code = 1
      process.stderr.write(`stopping the lab failed: ${(err as Error).message}; run \`homecloud lab down\`\n`)
    }
    process.exit(code)
  }
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  const handler = () => void stop()
  for (const signal of signals) process.on(signal, handler)
  return {
    release() {
      for (const signal of signals) process.off(signal, handler)
    },
  }
}

/** Foreground `lab up`: show the cluster, then every event as it happens, until Ctrl-C. */
async function followLab(l: LabFile): Promise<void> {
  const first = l.nodes[0]!
  const view = await fetchClusterView(nodeUrl(first))
  if (view) process.stdout.write(`\n${formatClusterView(view, Date.now())}\n`)
  process.stdout.write(
    `\nThe lab runs until Ctrl-C. Status page: ${nodeUrl(first)}\nIn another terminal: homecloud lab unplug NAME | plug NAME | add --board pi5 | status\n\n`,
  )
  let seen = Date.now()
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000))
    const current = await readLabFile(l.dir).catch(() => l)
    for (const n of current.nodes) {
      if (n.pid === null) continue
      const v = await fetchClusterView(nodeUrl(n))
      if (!v) continue
      for (const e of v.events.filter((e) => e.atMs > seen)) {
        process.stdout.write(`${new Date(e.atMs).toLocaleTimeString()}  [${n.name}] ${e.message}\n`)
      }
      seen = Math.max(seen, ...v.events.map((e) => e.atMs))
      break
    }
  }
}

/** `amd64,arm64` → the architectures; anything else is a clear error. */
function parseArchList(list: string): ImageArch[] {
  const archs = list.split(',').map((a) => a.trim())
  for (const a of archs) {
    if (a !== 'amd64' && a !== 'arm64')
      throw new HomecloudError(
        'LAB_INVALID',
        `unknown architecture '${a}'`,
        'use amd64, arm64 or amd64,arm64',
      )
  }
  return archs as ImageArch[]
}
