import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'

/** The image tests and benchmarks run on a real kubelet: nothing is pulled. */
export const BUSYBOX_IMAGE = 'homecloud.local/busybox:1'

/** Debian's busybox-static as an OCI archive (images/oci/pack.sh) in `dir`/busybox.tar. */
export async function packBusybox(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs')
  await mkdir(join(rootfs, 'bin'), { recursive: true })
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))
  assert.ok(busybox, 'busybox is installed (Debian busybox-static; scripts/setup.sh installs it)')
  await execa('cp', [busybox, join(rootfs, 'bin', 'busybox')])
  for (const a of ['sh', 'echo', 'sleep', 'cat']) await symlink('busybox', join(rootfs, 'bin', a))
  const out = join(dir, 'busybox.tar')
  await execa('bash', [
    join(packageRoot(), 'images', 'oci', 'pack.sh'),
    '--name',
    BUSYBOX_IMAGE,
    '--arch',
    'amd64',
    '--rootfs',
    rootfs,
    '--out',
    out,
    '--',
    '/bin/sh',
  ])
  await rm(rootfs, { recursive: true, force: true })
  return out
}

/** A pod pinned to `node` running busybox `script`, as a manifest kubectl applies. */
export function busyboxPod(name: string, node: string, script: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      containers: [
        { name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command: ['/bin/sh', '-c', script] },
      ],
    },
  }
}

/**
 * The same pod kept by a one-replica Deployment (label app=NAME): it comes back after the
 * node does, even when dead-node handling deleted the pod in between.
 */
export function busyboxDeployment(name: string, node: string, script: string): Record<string, unknown> {
  const pod = busyboxPod(name, node, script) as { spec: Record<string, unknown> }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: pod.spec },
    },
  }
}
