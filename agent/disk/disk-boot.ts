import { chmod, copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import { generatePassword } from '../core/password.js'
import { readClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'
import { foundCluster } from '../trust/founding.js'
import { readJoinMaterial } from '../trust/join-material.js'
import { FIRST_BOOT_FILE, FIRST_BOOT_JOIN_FILE, FirstBoot } from './first-boot.js'

// Every boot of a homecloud disk, before the agent starts (/init's disk mode runs it as
// `homecloud disk-boot`): the first boot founds a cluster or takes the join material
// from the boot partition, as first-boot.json says; every boot writes the agent's
// config (this boot's address) and tells the console where the status page is and how
// machines get in — a first node has no other screen.

export interface DiskBootInput {
  /** The boot partition's homecloud/ folder (first-boot.json, join.json). */
  bootDir: string
  stateDir: string
  /** This boot's address (DHCP). */
  host: string
  mac: string
  /** Fields /init adds to the config (a Kubernetes node image's kube section). */
  configExtra: Record<string, unknown>
  clock: Clock
}

export interface DiskBoot {
  name: string
  /** For the console, one line each. */
  lines: string[]
}

const invalid = (message: string, hint: string) => new HomecloudError('FIRST_BOOT_INVALID', message, hint)

async function readFirstBoot(bootDir: string): Promise<FirstBoot> {
  const settings = await readJsonFile(join(bootDir, FIRST_BOOT_FILE), FirstBoot, {
    code: 'FIRST_BOOT_INVALID',
    what: 'first-boot settings',
    hint: `fix ${FIRST_BOOT_FILE} on the disk's boot partition (any computer can edit it), or write the disk image again`,
  })
  // A disk made by `homecloud image disk` always has one; without it the disk founds, as by default.
  return settings ?? FirstBoot.parse({ v: 1, mode: 'found' })
}

/** hc-<the MAC's last three bytes>: stable across boots, unique on a LAN. */
export const defaultNodeName = (mac: string) =>
  `hc-${mac
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .slice(-6)}`

async function firstBoot(input: DiskBootInput, settings: FirstBoot, name: string): Promise<string[]> {
  const paths = statePaths(input.stateDir)
  if (settings.mode === 'join') {
    if (await readJoinMaterial(paths.joinFile)) return []
    const from = join(input.bootDir, FIRST_BOOT_JOIN_FILE)
    if (!(await readJoinMaterial(from).catch(() => null)))
      throw invalid(
        `${FIRST_BOOT_FILE} says join, and ${from} holds no valid join material`,
        'copy join.json from a member of the cluster onto the boot partition, or make the image again with --join',
      )
    await copyFile(from, paths.joinFile)
    await chmod(paths.joinFile, 0o600)
    return [`first boot: joining the cluster of ${FIRST_BOOT_JOIN_FILE}`]
  }
  const uiPassword = generatePassword()
  const founded = await foundCluster({
    stateDir: input.stateDir,
    clusterName: settings.clusterName,
    nodeName: name,
    host: input.host,
    joinPolicy: settings.joinPolicy,
    uiPassword,
    clock: input.clock,
  })
  return [
    `first boot: founded cluster ${settings.clusterName} (${founded.clusterId})`,
    `status page password: ${uiPassword}   (shown once; only its hash is kept)`,
    `admin client config: ${founded.adminConfig}; join material for other machines: ${founded.joinFile}`,
  ]
}

const policyWords = {
  auto: 'auto (a machine with the join secret, or netbooted by a member, gets in at once)',
  approve: 'approve (new machines wait until an admin approves them on the status page)',
} as const

export async function diskBoot(input: DiskBootInput): Promise<DiskBoot> {
  const settings = await readFirstBoot(input.bootDir)
  const name = settings.nodeName ?? defaultNodeName(input.mac)
  const paths = statePaths(input.stateDir)
  // Only what this boot knows goes into the file (defaults stay the release's), checked whole.
  // GRUB counts the tries of this disk's slots: the agent's slot backend (agent/slots/disk-boot.ts).
  const written = { ...input.configExtra, host: input.host, name, slots: { backend: 'grub' } }
  const checked = AgentConfig.safeParse(written)
  if (!checked.success)
    throw invalid(
      `the agent config for this boot is invalid (${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message})`,
      'the release is broken: boot the other slot or write the disk image again',
    )
  const config = checked.data
  const lines = (await readClusterFile(paths.clusterFile)) ? [] : await firstBoot(input, settings, name)
  await writeFileAtomic(join(input.stateDir, 'config.json'), `${JSON.stringify(written, null, 2)}\n`, 0o600)
  const cluster = await readClusterFile(paths.clusterFile)
  if (cluster)
    lines.push(`cluster ${cluster.name} (${cluster.id}); join policy: ${policyWords[cluster.joinPolicy]}`)
  else lines.push('join policy: the cluster it joins decides (see its status page)')
  lines.push(
    `status page: http://${input.host}:${config.ports.api}/ (log in at https://${input.host}:${config.ports.https}/)`,
    `this node: ${name}`,
  )
  // The proxyDHCP/TFTP side needs dnsmasq and iPXE, which a release does not carry yet.
  if (settings.netboot) lines.push('netboot: not answered from a disk yet (the release carries no dnsmasq)')
  return { name, lines }
}
