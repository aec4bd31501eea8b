import { readFileSync } from 'node:fs'
import type { PeerClient } from '../api/peer-client.js'
import type { Logger } from '../core/log.js'
import { parseKernelCmdline } from '../netboot/cmdline.js'
import type { ReleaseArch } from '../release/manifest.js'
import { AGENT_VERSION } from '../version.js'
import { NetbootSlots } from './netboot.js'
import { RelayNetbootSlots } from './netboot-store.js'

// Builds a netbooted machine's backend (config slots.backend `netboot`): its MAC from the
// config or the kernel command line the serving node wrote, the release it booted from
// the same line, and the voters that keep its record.

export interface NetbootMachineDeps {
  mac: string | undefined
  arch: ReleaseArch
  /** Alive voters, this node among them when it is one. */
  voters: () => { id: string; address: string; tlsPort: number }[]
  client: PeerClient
  log: Logger
  restart(): void
  cmdline?: () => string
}

export function netbootSlotsOnMachine(d: NetbootMachineDeps): NetbootSlots | null {
  const line = d.cmdline ?? (() => readFileSync('/proc/cmdline', 'utf8'))
  const params = () => {
    try {
      const p = parseKernelCmdline(line())
      return p.success ? p.data : null
    } catch {
      return null
    }
  }
  const mac = d.mac ?? params()?.mac
  if (!mac) {
    d.log.warn('slots.backend is netboot but no MAC is known (config slots.mac or homecloud.mac=): no slots')
    return null
  }
  return new NetbootSlots({
    mac,
    arch: d.arch,
    client: new RelayNetbootSlots({ voters: d.voters, client: d.client }),
    running: () => {
      const p = params()
      return p ? { id: p.image, version: AGENT_VERSION } : null
    },
    log: d.log,
    restart: d.restart,
  })
}
