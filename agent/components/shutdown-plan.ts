import type { AgentConfig } from '../config/schema.js'

// What `homecloud shutdown` does once the node drained, by how the agent runs: a pure
// decision, so the cases are unit-tested without powering anything off. The agent alone
// stops where nothing starts it again at once; a machine is powered off the way its init
// does it. A combination that would not do what the admin asked is refused up front,
// before anything is drained.

export type PowerOff =
  /** Run this command (as root, which the agent is on a machine). */
  | { argv: string[] }
  /** The lab's firmware (the agent's parent) powers the lab machine off on SIGTERM (lab/firmware.ts). */
  | { signalParent: 'SIGTERM' }

export type ShutdownPlan = { powerOff: PowerOff | null } | { refused: string; hint: string }

export interface HowItRuns {
  name: string
  backend: AgentConfig['slots']['backend']
  /** systemd started the agent (it sets INVOCATION_ID for every unit): `homecloud install`. */
  systemd: boolean
  poweroff: boolean
}

export function shutdownPlan(h: HowItRuns): ShutdownPlan {
  const init = h.backend === 'netboot' || h.backend === 'grub'
  if (h.poweroff) {
    if (h.systemd) return { powerOff: { argv: ['systemctl', 'poweroff'] } }
    // The netboot initramfs (also a homecloud disk's): busybox's poweroff, as its /init does.
    if (init) return { powerOff: { argv: ['poweroff', '-f'] } }
    if (h.backend === 'lab') return { powerOff: { signalParent: 'SIGTERM' } }
    return {
      refused: `${h.name}'s agent was started by hand (or by a lab without boot slots): there is no machine of its own to power off`,
      hint: 'leave out --poweroff: its agent stops after the drain',
    }
  }
  if (init)
    return {
      refused: `${h.name} booted homecloud's image, whose init starts the agent again at once`,
      hint: 'add --poweroff (the machine drains, then powers off)',
    }
  if (h.backend === 'lab')
    return {
      refused: `${h.name} is a lab machine with boot slots: its firmware boots the agent again at once`,
      hint: 'add --poweroff (the lab machine drains, then powers off; `homecloud lab plug` starts it again)',
    }
  return { powerOff: null }
}
