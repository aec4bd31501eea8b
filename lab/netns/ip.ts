// The only place that runs `ip`: one command at a time, failures turned into
// NETNS_FAILED with the command, its stderr and what to do next.
import { execa, execaSync } from 'execa'
import { z } from 'zod'
import { HomecloudError } from '../../agent/core/errors.js'
import type { HostState, IpCommand } from './plan.js'

export interface IpResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Runs `ip` with args; injectable so callers can be tested without root. */
export type IpRunner = (args: string[]) => Promise<IpResult>
/** The same, blocking: for teardown from a process 'exit' handler, where nothing async runs. */
export type IpRunnerSync = (args: string[]) => IpResult

/** A single `ip` call that takes longer than this is stuck (e.g. a wedged netns mount). */
export const ipCommandMsMax = 10_000

type ExecaOutcome = {
  failed: boolean
  exitCode?: number
  timedOut: boolean
  originalMessage?: string
  message?: string
  stdout?: unknown
  stderr?: unknown
}

function toIpResult(r: ExecaOutcome): IpResult {
  if (r.failed && r.exitCode === undefined) {
    // Spawn failure or timeout: no exit code to report.
    const why = r.timedOut
      ? `timed out after ${ipCommandMsMax} ms`
      : (r.originalMessage ?? r.message ?? 'spawn failed')
    return { exitCode: -1, stdout: '', stderr: why }
  }
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') }
}

const ipExecOptions = { reject: false, timeout: ipCommandMsMax, stdin: 'ignore' } as const

export const execaIpRunner: IpRunner = async (args) => toIpResult(await execa('ip', args, ipExecOptions))

export const execaIpRunnerSync: IpRunnerSync = (args) => toIpResult(execaSync('ip', args, ipExecOptions))

const gonePattern =
  /Cannot find device|No such file or directory|does not exist|Cannot open network namespace/i

export function isGoneError(stderr: string): boolean {
  return gonePattern.test(stderr)
}

export function hintFor(stderr: string): string {
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return 'network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run as root'
  }
  if (/File exists/i.test(stderr)) {
    return 'a lab network with this index is left over: destroy it (destroyLabNetwork) or sweep stale labs'
  }
  if (/ENOENT|not found/i.test(stderr)) return 'install iproute2 (the `ip` command)'
  if (gonePattern.test(stderr)) return 'the lab network or node does not exist: create it first'
  return 'check `ip netns list` and `ip link` for leftovers of an earlier run'
}

/** Output of a successful command; "gone" counts as success where the step allows it. */
export function checkIpResult(cmd: IpCommand, r: IpResult): string {
  if (r.exitCode === 0) return r.stdout
  if (cmd.goneIsOk && isGoneError(r.stderr)) return ''
  const stderr = r.stderr.trim()
  throw new HomecloudError(
    'NETNS_FAILED',
    `\`ip ${cmd.args.join(' ')}\` failed (exit ${r.exitCode}): ${stderr}`,
    hintFor(stderr),
  )
}

export async function runIp(cmd: IpCommand, run: IpRunner = execaIpRunner): Promise<string> {
  return checkIpResult(cmd, await run(cmd.args))
}

export async function runAll(cmds: IpCommand[], run: IpRunner = execaIpRunner): Promise<void> {
  for (const cmd of cmds) await runIp(cmd, run)
}

export function runAllSync(cmds: IpCommand[], run: IpRunnerSync = execaIpRunnerSync): void {
  for (const cmd of cmds) checkIpResult(cmd, run(cmd.args))
}

const linkListSchema = z.array(z.looseObject({ ifname: z.string() }))
const netnsListSchema = z.array(z.looseObject({ name: z.string() }))

/** `ip -j` prints nothing at all (not `[]`) when /run/netns does not exist yet. */
function parseJsonList<T>(text: string, schema: z.ZodType<T[]>, what: string): T[] {
  if (text.trim() === '') return []
  const parsed = schema.safeParse(JSON.parse(text))
  if (!parsed.success) {
    throw new HomecloudError(
      'NETNS_FAILED',
      `unexpected \`ip -j ${what}\` output`,
      'check the iproute2 version',
    )
  }
  return parsed.data
}

const listLinks: IpCommand = { args: ['-j', 'link', 'show'] }
const listNetns: IpCommand = { args: ['-j', 'netns', 'list'] }

export function parseHostState(linksJson: string, netnsJson: string): HostState {
  const links = parseJsonList(linksJson, linkListSchema, 'link show')
  const namespaces = parseJsonList(netnsJson, netnsListSchema, 'netns list')
  return { links: links.map((l) => l.ifname), namespaces: namespaces.map((n) => n.name) }
}

export async function readHostState(run: IpRunner = execaIpRunner): Promise<HostState> {
  return parseHostState(await runIp(listLinks, run), await runIp(listNetns, run))
}

export function readHostStateSync(run: IpRunnerSync = execaIpRunnerSync): HostState {
  return parseHostState(
    checkIpResult(listLinks, run(listLinks.args)),
    checkIpResult(listNetns, run(listNetns.args)),
  )
}
