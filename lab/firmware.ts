import { spawn } from 'node:child_process'
import { appendFileSync, closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { sleep, systemClock } from '../agent/core/clock.js'
import { BOOT_FILE } from '../agent/slots/lab.js'
import { readBootStateFile, writeBootStateFile } from '../agent/slots/state-file.js'
import { boot } from '../agent/slots/tries.js'
import { AGENT_ENV, AGENT_NODE_FLAGS } from './processes.js'

// The lab's firmware: one process per slotted lab node, started at power-on (`lab up`,
// `lab plug`) and killed with the node's process group at unplug. At every boot it does
// what GRUB or the Pi's bootloader would: read the boot state, pick the slot with the
// shared try counting (agent/slots/tries.ts — the try is counted before the slot runs),
// write the state back, and start the agent from that slot's own unpacked bundle (its
// node, its app, its etcd). When the agent exits — a reboot it asked for, or a crash —
// the firmware boots again. SIGTERM (a clean power-off) is passed on to the agent.

export interface FirmwareInit {
  /** `<node dir>/slots`: boot.json and the slot directories a/ and b/. */
  slotsDir: string
  stateDir: string
  configPath: string
  logPath: string
  firmwareLog: string
}

/** A boot loop that never ends on its own: `exitCode` when powered off. */
export async function runFirmware(init: FirmwareInit): Promise<number> {
  const clock = systemClock({ keepAlive: true })
  const say = (line: string) =>
    appendFileSync(init.firmwareLog, `${new Date(clock.nowMs()).toISOString()} ${line}\n`)
  let poweringOff = false
  let child: ReturnType<typeof spawn> | null = null
  process.once('SIGTERM', () => {
    poweringOff = true
    say('power off (SIGTERM): stopping the agent')
    child?.kill('SIGTERM')
  })
  for (;;) {
    if (poweringOff) return 0
    const file = join(init.slotsDir, BOOT_FILE)
    const state = await readBootStateFile(file)
    if (!state) {
      say(`no ${file}: nothing to boot`)
      return 1
    }
    const b = boot(state, clock.nowMs())
    await writeBootStateFile(file, b.state)
    const content = b.slot ? b.state.slots[b.slot] : null
    if (!b.slot || !content) {
      say('no bootable slot: halted')
      return 1
    }
    const tries =
      b.mode === 'trying'
        ? ` (trying, ${b.state.triesLeft} tries left)`
        : b.mode === 'fallback'
          ? ' (fell back: the tried slot ran out of tries)'
          : ''
    say(
      `boot ${b.state.boots}: slot ${b.slot} release ${content.version} ${content.releaseId.slice(0, 12)}${tries}`,
    )
    child = startSlot(init, join(init.slotsDir, b.slot, 'homecloud'))
    const code = await new Promise<number>((resolve) =>
      child?.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1))),
    )
    child = null
    say(`the agent exited (${code}); ${poweringOff ? 'powered off' : 'rebooting'}`)
    if (!poweringOff) await sleep(clock, 1000)
  }
}

/** The agent of one slot, from that slot's bundle (its dynamic loader, node, app and etcd). */
function startSlot(init: FirmwareInit, root: string) {
  const lib = join(root, 'node', 'lib')
  const out = openSync(init.logPath, 'a')
  try {
    return spawn(
      join(lib, 'ld-linux-x86-64.so.2'),
      [
        '--library-path',
        lib,
        join(root, 'node', 'node'),
        ...AGENT_NODE_FLAGS,
        join(root, 'app', 'bin', 'homecloud.js'),
        'agent',
        '--state',
        init.stateDir,
        '--config',
        init.configPath,
      ],
      {
        stdio: ['ignore', out, out],
        env: { ...process.env, ...AGENT_ENV, HOMECLOUD_ETCD_BIN: join(root, 'bin') },
      },
    )
  } finally {
    closeSync(out)
  }
}
