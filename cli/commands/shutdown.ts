import { hostname } from 'node:os'
import { Command } from 'commander'
import type { ShutdownView } from '../../agent/components/shutdown-routes.js'
import { sleep, systemClock } from '../../agent/core/clock.js'
import { type ErrorCode, HomecloudError } from '../../agent/core/errors.js'
import { type AdminResponse, adminCallAt } from '../admin-client.js'
import { parseDuration } from '../duration.js'
import { nodeTlsUrl } from '../release-publish.js'
import { defaultAdminConfig } from './admin.js'

// `homecloud shutdown [--node NAME] [--timeout S] [--poweroff]`: asks the node's own 7443
// API (admin certificate) to drain itself through the same path a SIGTERM takes
// (agent/components/shutdown-routes.ts), then stop its agent; shows the drain's progress
// until the node no longer answers.

const say = (line: string) => process.stdout.write(`${line}\n`)
const pollMs = 1000
/** After the drain, how long the agent may take to stop (etcd, Kubernetes) before we say it is stuck. */
const stopMsMax = 120_000

interface Opts {
  node?: string
  timeout?: string
  poweroff?: boolean
  admin?: string
}

export function shutdownCommand(): Command {
  return new Command('shutdown')
    .description('drain a node (PodDisruptionBudgets honoured, bounded), then stop its agent')
    .option('--node <name>', 'the node to shut down (default: this machine, by its hostname)')
    .option('--timeout <duration>', 'how long the drain may take before the node stops anyway (default 60s)')
    .option('--poweroff', 'then power the machine off (an installed or netbooted machine)')
    .option('--admin <file>', 'admin client config (STATE/admin.json from `homecloud init`)')
    .action(async (opts: Opts) => {
      const admin = opts.admin ?? defaultAdminConfig()
      const timeoutMs = opts.timeout ? parseDuration(opts.timeout, '--timeout') : undefined
      const name = opts.node ?? hostname()
      const url = await nodeTlsUrl(admin, name).catch((err: unknown) => {
        if (opts.node || !(err instanceof HomecloudError) || err.code !== 'NODE_UNKNOWN') throw err
        throw new HomecloudError(
          'NODE_UNKNOWN',
          `this machine (${name}) is not a member`,
          'name the node: homecloud shutdown --node NAME (homecloud status lists them)',
        )
      })
      const r = await adminCallAt(admin, url, 'POST', '/api/v1/shutdown', {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        poweroff: opts.poweroff === true,
      })
      if (r.status !== 202) refusedShutdown(r)
      say(`${name}: shutting down${opts.poweroff ? ' (then powering off)' : ''}`)
      await follow(admin, url, name, (timeoutMs ?? 600_000) + stopMsMax)
    })
}

/** Prints the node's progress lines until it stops answering (its agent stopped). */
async function follow(admin: string, url: string, name: string, waitMs: number): Promise<void> {
  const clock = systemClock({ keepAlive: true })
  const startMs = clock.monoMs()
  const deadline = startMs + waitMs
  let shown = 0
  let last: ShutdownView | null = null
  while (clock.monoMs() < deadline) {
    const r = await adminCallAt(admin, url, 'GET', '/api/v1/shutdown', undefined, { timeoutMs: 5000 }).catch(
      () => null,
    )
    if (r === null) {
      // Connection refused or closed: the agent is gone.
      const drained = last?.drain?.outcome
      const secs = Math.round((clock.monoMs() - startMs) / 1000)
      say(`${name}: stopped${drained && drained !== 'not-drained' ? ` (${drained})` : ''} after ${secs} s`)
      if (drained === 'not-drained')
        say(`  warning: it stopped without a drain; its pods move when Kubernetes sees it gone`)
      return
    }
    if (r.status === 200) {
      last = r.body as unknown as ShutdownView
      for (const l of last.lines.slice(shown)) say(`  ${l}`)
      shown = last.lines.length
    }
    await sleep(clock, pollMs)
  }
  throw new HomecloudError(
    'SHUTDOWN_STUCK',
    `${name} still answers on ${url} after ${Math.round(waitMs / 1000)} s (${last?.phase ?? 'unknown'})`,
    'look at its agent log (journalctl -u homecloud); stop it there',
  )
}

function refusedShutdown(r: AdminResponse): never {
  const code = String(r.body.error ?? 'API_UNREACHABLE')
  const known: string[] = ['SHUTDOWN_REFUSED', 'SHUTDOWN_IN_PROGRESS', 'ADMIN_UNAUTHORIZED']
  throw new HomecloudError(
    (code === 'BAD_REQUEST'
      ? 'CONFIG_INVALID'
      : known.includes(code)
        ? code
        : 'API_UNREACHABLE') as ErrorCode,
    String(r.body.message ?? `HTTP ${r.status}`),
    typeof r.body.hint === 'string' ? r.body.hint : undefined,
  )
}
