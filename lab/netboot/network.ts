import { join } from 'node:path'
import { HomecloudError } from '../../agent/core/errors.js'
import { execaIpRunner, type IpRunner } from '../netns/ip.js'
import { labBridgeNames } from '../netns/names.js'
import { spawnLabProcess } from '../processes.js'
import { isTapOfLab, routerArgs, routerIpv6, tapName } from './names.js'

// The lab's netboot network on the host: a router dnsmasq on the bridge (DHCP for VMs,
// IPv6 RAs) and a tap per VM enslaved to the bridge. Taps outlive qemu (they are
// persistent), so `lab down` deletes every tap named for the lab.

async function ip(args: string[], run: IpRunner, okIfGone = false): Promise<void> {
  const r = await run(args)
  if (r.exitCode === 0 || (okIfGone && /Cannot find device|does not exist/i.test(r.stderr))) return
  throw new HomecloudError(
    'NETNS_FAILED',
    `ip ${args.join(' ')} failed: ${r.stderr.trim()}`,
    'netboot labs need root (sudo) and the tun module',
  )
}

/** Starts the router (a lab process: `lab down` kills it with the rest). Returns its pid. */
export async function startLabRouter(
  labIndex: number,
  labDir: string,
  run: IpRunner = execaIpRunner,
): Promise<number> {
  const b = labBridgeNames(labIndex)
  await ip(['-6', 'addr', 'replace', routerIpv6(labIndex), 'dev', b.bridge], run)
  return spawnLabProcess(
    labDir,
    'dnsmasq',
    routerArgs(labIndex, join(labDir, 'router.leases')),
    join(labDir, 'router.log'),
  )
}

export async function addVmTap(labIndex: number, vm: number, run: IpRunner = execaIpRunner): Promise<string> {
  const tap = tapName(labIndex, vm)
  const b = labBridgeNames(labIndex)
  await ip(['link', 'del', tap], run, true)
  await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap'], run)
  await ip(['link', 'set', tap, 'master', b.bridge], run)
  await ip(['link', 'set', tap, 'up'], run)
  return tap
}

export async function removeLabTaps(labIndex: number, run: IpRunner = execaIpRunner): Promise<string[]> {
  const r = await run(['-o', 'link', 'show'])
  const taps = [...r.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)]
    .map((m) => m[1]!)
    .filter((n) => isTapOfLab(n, labIndex))
  for (const t of taps) await ip(['link', 'del', t], run, true)
  return taps
}
