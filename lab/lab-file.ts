import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { HomecloudError } from '../agent/core/errors.js'
import { writeFileAtomic } from '../agent/core/files.js'

export const LabNode = z.object({
  name: z.string().min(1).max(63),
  board: z.string().min(1).max(64),
  /** 1-based position: decides the node's address and namespace. */
  slot: z.number().int().min(1).max(250),
  address: z.string(),
  stateDir: z.string(),
  pid: z.number().int().positive().nullable(),
  /** The node's mesh public key (hex), known because the lab provisions identities. */
  key: z.string().regex(/^[0-9a-f]{64}$/),
  /** Runs the real kubelet + containerd (namespace labs); its pods live under this cgroup. */
  kubelet: z.object({ cgroupRoot: z.string() }).optional(),
  /** Boots through the lab's firmware from two slots (`lab up --slots`): `<node dir>/slots`. */
  slotsDir: z.string().optional(),
})
export type LabNode = z.infer<typeof LabNode>

/** A qemu VM that netboots from the lab (`lab add --vm`). */
export const VmDisk = z.object({ file: z.string().max(4096), readonly: z.boolean().default(false) })
export type VmDisk = z.infer<typeof VmDisk>

export const LabVm = z.object({
  name: z.string().min(1).max(63),
  vm: z.number().int().min(1).max(99),
  mac: z.string(),
  tap: z.string(),
  uefi: z.boolean(),
  /** arm64: qemu-system-aarch64 (`virt`, UEFI firmware, GRUB); older lab files are amd64. */
  arch: z.enum(['amd64', 'arm64']).default('amd64'),
  pid: z.number().int().positive().nullable(),
  consoleLog: z.string(),
  startedAtMs: z.number(),
  /** Local disks (raw image files, virtio: vda, vdb… in this order), kept for a power-on again. */
  disks: z.array(VmDisk).max(4).default([]),
})
export type LabVm = z.infer<typeof LabVm>

export const LabFile = z.object({
  v: z.literal(1),
  dir: z.string(),
  mode: z.enum(['loopback', 'netns']),
  /** Which address block (127.0.INDEX.x or 10.77.INDEX.x) and namespace prefix this lab owns. */
  index: z.number().int().min(1).max(200),
  clusterId: z.string(),
  clusterName: z.string(),
  /** Every node runs Kubernetes (kwok standing in for kubelets); `lab add` keeps it so. */
  kube: z.boolean().default(false),
  nodes: z.array(LabNode),
  /**
   * Netns labs started with --netboot: every node answers netboot with this image, published as
   * the lab's release; `otherArchs` are the images of further architectures (`--netboot-arch`),
   * each published as a release of its own (a node serves the current release of each arch).
   */
  netboot: z
    .object({
      imageDir: z.string(),
      releaseDir: z.string().optional(),
      releaseId: z.string().optional(),
      otherArchs: z
        .array(z.object({ imageDir: z.string(), releaseDir: z.string(), releaseId: z.string().optional() }))
        .default([]),
    })
    .optional(),
  vms: z.array(LabVm).default([]),
  /** `lab up --slots`: every node boots the lab's release from its slot a, through the lab firmware. */
  slots: z.object({ releaseDir: z.string(), releaseId: z.string().optional() }).optional(),
})
export type LabFile = z.infer<typeof LabFile>

export function labFilePath(dir: string): string {
  return join(dir, 'lab.json')
}

export async function readLabFile(dir: string): Promise<LabFile> {
  let text: string
  try {
    text = await readFile(labFilePath(dir), 'utf8')
  } catch {
    throw new HomecloudError(
      'LAB_NOT_FOUND',
      `no lab in ${dir}`,
      'start one with `homecloud lab up --dir DIR`',
    )
  }
  const r = LabFile.safeParse(JSON.parse(text))
  if (!r.success)
    throw new HomecloudError('LAB_INVALID', `${labFilePath(dir)} is damaged: ${r.error.issues[0]?.message}`)
  return r.data
}

export async function writeLabFile(lab: LabFile): Promise<void> {
  await writeFileAtomic(labFilePath(lab.dir), `${JSON.stringify(lab, null, 2)}\n`)
}
