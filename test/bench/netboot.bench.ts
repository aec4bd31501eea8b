// Netboot: VM power-on → member alive on every node, split by stage, BIOS and UEFI
// (TCG, so firmware and kernel are slow on purpose-free emulation), and the image size;
// then the Kubernetes node image (--kube): power-on → a Ready kubelet Node.
// Stage times come from the serving node's clock (its dnsmasq lines, its HTTP routes,
// the guest's reports to it); agent start → joined from the guest's own agent log.
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import type { LabFile } from '../../lab/lab-file.js'
import { labKubeconfig } from '../../lab/launcher.js'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { labAddVm, waitVmJoined } from '../../lab/netboot/vm.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { benchLab } from './lab.js'
import { stageRows } from './netboot-stages.js'
import type { BenchContext, Row } from './types.js'

export const name = 'netboot'

async function bootOne(ctx: BenchContext, lab: LabFile, uefi: boolean): Promise<Row[]> {
  const fw = uefi ? 'UEFI' : 'BIOS'
  const vm = await labAddVm(lab.dir, { uefi, wait: false, lifetimeSeconds: 1800 })
  ctx.progress(`${fw}: ${vm.name} powered on; waiting until it is alive on every node`)
  await waitVmJoined(lab, vm.name, 1_200_000, (l) => ctx.progress(`${fw}: ${l}`))
  return stageRows(fw, { stage: 'ipxe', what: `${uefi ? 'TFTP ipxe.efi + ' : ''}iPXE` }, lab, vm, Date.now())
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) {
    return [
      { metric: 'netboot (needs root: namespaces, taps, dnsmasq)', value: null, unit: '', note: 'skipped' },
    ]
  }
  const imageDir = await ensureNetbootImage((l) => ctx.progress(l))
  const rows: Row[] = []
  let total = 0
  for (const f of ['vmlinuz', 'initrd.img', 'agent.tar.zst']) {
    const bytes = (await stat(join(imageDir, f))).size
    total += bytes
    rows.push({ metric: `image: ${f}`, value: Math.round(bytes / 1e5) / 10, unit: 'MB' })
  }
  rows.push({ metric: 'image: total download per machine', value: Math.round(total / 1e5) / 10, unit: 'MB' })
  const lab = await benchLab(ctx, 'netboot', { nodes: 2, netns: true, netboot: true, imageDir })
  try {
    for (const uefi of ctx.quick ? [false] : [false, true]) {
      try {
        rows.push(...(await bootOne(ctx, lab.lab, uefi)))
      } catch (err) {
        ctx.fail(`netboot ${uefi ? 'UEFI' : 'BIOS'}`, err)
      }
    }
  } finally {
    await lab.close()
  }
  try {
    rows.push(...(await kubeBoot(ctx)))
  } catch (err) {
    ctx.fail('netboot --kube', err)
  }
  return rows
}

/** The --kube image: its size, and power-on → Ready kubelet Node (BIOS). */
async function kubeBoot(ctx: BenchContext): Promise<Row[]> {
  const imageDir = await ensureNetbootImage((l) => ctx.progress(l), { kube: true })
  const bytes = (await stat(join(imageDir, 'agent.tar.zst'))).size
  const rows: Row[] = [
    {
      metric: 'kube image: agent.tar.zst (with kubelet, containerd, runc, CNI, pause)',
      value: Math.round(bytes / 1e5) / 10,
      unit: 'MB',
    },
  ]
  const { kubectl } = await findKubePrograms(['kubectl'])
  const lab = await benchLab(ctx, 'netboot-kube', {
    boards: 'pi5,pi5,pi4',
    netns: true,
    netboot: true,
    kube: true,
    imageDir,
    agentConfig: CP_CONFIG,
  })
  try {
    const kubeconfig = join(lab.dir, 'bench.kubeconfig')
    await writeFile(kubeconfig, await labKubeconfig(lab.dir, lab.lab.nodes[0]!.name), { mode: 0o600 })
    const vm = await labAddVm(lab.dir, { wait: false, lifetimeSeconds: 1800 })
    ctx.progress(`kube image: ${vm.name} powered on; waiting for its Node to be Ready`)
    await waitVmJoined(lab.lab, vm.name, 1_200_000, (l) => ctx.progress(`kube image: ${l}`))
    const aliveMs = Date.now()
    await waitFor(
      async () => {
        const r = await execa(
          kubectl,
          [
            '--kubeconfig',
            kubeconfig,
            '--request-timeout=5s',
            'get',
            'node',
            vm.name,
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ],
          { reject: false },
        )
        return r.stdout === 'True' ? true : `Ready=${r.stdout || 'none'}`
      },
      { timeoutMs: 1_200_000, intervalMs: 500, progress: (l) => ctx.progress(`kube image: ${l}`) },
    )
    rows.push(
      {
        metric: 'kube image (BIOS): power-on → member alive on every node',
        value: aliveMs - vm.startedAtMs,
        unit: 'ms',
      },
      {
        metric: 'kube image (BIOS): power-on → Ready kubelet Node',
        value: Date.now() - vm.startedAtMs,
        unit: 'ms',
        note: 'TCG',
      },
    )
  } finally {
    await lab.close()
  }
  return rows
}
