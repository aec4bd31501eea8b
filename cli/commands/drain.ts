import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { type Clock, systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { createLogger } from '../../agent/core/log.js'
import { EtcdClient } from '../../agent/etcd/client.js'
import { ETCD_ADMIN_USER } from '../../agent/etcd/etcd-auth.js'
import { readAdminConfig } from '../../agent/trust/admin-config.js'
import { drainNode, type TimeoutPolicy, undrainNode } from '../../control/drain/execute.js'
import { kubeApiFromKubeconfig } from '../../control/kubeapi/client.js'
import type { KubeApi } from '../../control/kubeapi/types.js'
import type { LockOperation } from '../../control/lock/record.js'
import { takeClusterLock } from '../../control/lock/take.js'
import { adminCallAt } from '../admin-client.js'
import { parseDuration } from '../duration.js'
import { defaultAdminConfig } from './admin.js'

// `homecloud drain NODE` / `homecloud undrain NODE`: the CLI does the work itself with
// the admin kubeconfig and takes the cluster lock in etcd with the admin certificate, so
// a drain needs no agent in between and the lock's holder is this process: if it dies,
// the lock frees itself when its lease expires and a new run resumes the drain. With
// --api, or with no kubeconfig here, a voter does the same under the same lock
// (POST /api/v1/drain, agent/components/drain-routes.ts) for the admin certificate.

interface CommonOpts {
  kubeconfig?: string
  admin?: string
  etcd?: string
  force?: boolean
  api?: boolean
}

const timeoutPolicies: readonly TimeoutPolicy[] = ['wait', 'give-up']

function withCommon(c: Command): Command {
  return c
    .option('--kubeconfig <file>', 'admin kubeconfig (default $KUBECONFIG, then ~/.kube/config)')
    .option('--admin <file>', 'admin client config (its certificate takes the cluster lock in etcd)')
    .option('--etcd <urls>', 'etcd client URLs, comma-separated (default: the admin config nodes, port 2379)')
    .option(
      '--api',
      "through a voter's 7443 API with the admin certificate (the default when there is no kubeconfig)",
    )
    .option(
      '--force',
      'go ahead although a node is NotReady or etcd has no failure to spare; evict unmanaged pods',
    )
}

export function drainCommand(): Command {
  return withCommon(
    new Command('drain')
      .description('cordon a node and move its pods elsewhere, honouring PodDisruptionBudgets')
      .argument('<node>', 'Kubernetes node name')
      .option('--dry-run', 'print the plan and change nothing')
      .option('--timeout <duration>', 'how long evictions may stay blocked', '5m')
      .option(
        '--on-timeout <policy>',
        'wait (keep trying) or give-up (leave it cordoned, exit non-zero)',
        'give-up',
      ),
  ).action(
    async (node: string, opts: CommonOpts & { dryRun?: boolean; timeout: string; onTimeout: string }) => {
      if (!timeoutPolicies.includes(opts.onTimeout as TimeoutPolicy))
        throw new HomecloudError('CONFIG_INVALID', `--on-timeout ${opts.onTimeout}: expected wait or give-up`)
      const timeoutMs = parseDuration(opts.timeout, '--timeout')
      if (!opts.dryRun && throughApi(opts)) return drainThroughApi(opts, { node, undrain: false, timeoutMs })
      const kube = await kubeApiFromKubeconfig(kubeconfigPath(opts))
      const lock = opts.dryRun ? noLock : await lockTaker(opts, kube)
      try {
        await drainNode(
          {
            node,
            dryRun: opts.dryRun === true,
            force: opts.force === true,
            timeoutMs,
            onTimeout: opts.onTimeout as TimeoutPolicy,
          },
          { kube, lock: lock.take, clock: cliClock(), progress: say },
        )
      } finally {
        lock.close()
      }
    },
  )
}

export function undrainCommand(): Command {
  return withCommon(
    new Command('undrain')
      .description('uncordon a node homecloud drained (a node cordoned by someone else stays cordoned)')
      .argument('<node>', 'Kubernetes node name'),
  ).action(async (node: string, opts: CommonOpts) => {
    if (throughApi(opts)) return drainThroughApi(opts, { node, undrain: true, timeoutMs: 120_000 })
    const kube = await kubeApiFromKubeconfig(kubeconfigPath(opts))
    const lock = await lockTaker(opts, kube)
    try {
      await undrainNode(node, { kube, lock: lock.take, progress: say })
    } finally {
      lock.close()
    }
  })
}

/** Timers that keep the process alive: a CLI waiting out a back-off would otherwise exit mid-drain. */
const cliClock = (): Clock => systemClock({ keepAlive: true })

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** --api, or no kubeconfig to do it here: a voter does it, for the admin certificate. */
function throughApi(opts: CommonOpts): boolean {
  if (opts.api) return true
  if (opts.kubeconfig || existsSync(kubeconfigPath(opts))) return false
  say(`no kubeconfig at ${kubeconfigPath(opts)}: through a voter's 7443 API with the admin certificate`)
  return true
}

function kubeconfigPath(opts: CommonOpts): string {
  return opts.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config')
}

const noLock = {
  take: async (): Promise<never> => {
    throw new Error('a dry run takes no lock')
  },
  close() {},
}

async function lockTaker(opts: CommonOpts, kube: KubeApi) {
  const adminPath = opts.admin ?? defaultAdminConfig()
  const admin = await readAdminConfig(adminPath)
  const read = async (p: string) => {
    try {
      return await readFile(p, 'utf8')
    } catch (err) {
      throw new HomecloudError('ADMIN_UNAUTHORIZED', `cannot read ${p}: ${(err as Error).message}`)
    }
  }
  // etcd's auth is on: the gateway takes a name-less certificate and the admin's login.
  const tls = {
    caPem: await read(admin.caCert),
    certPem: await read(admin.etcd?.cert ?? admin.cert),
    keyPem: await read(admin.etcd?.key ?? admin.key),
    ...(admin.etcd ? { login: { name: ETCD_ADMIN_USER, password: admin.etcd.password } } : {}),
  }
  const endpoints = opts.etcd
    ? opts.etcd
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
    : admin.urls.map((u) => `https://${new URL(u).hostname}:2379`)
  const clock = cliClock()
  const etcd = new EtcdClient({ endpoints, tls }, { clock })
  const log = createLogger({ node: 'cli', level: process.env.HOMECLOUD_LOG_LEVEL ?? 'warn' })
  const holder = `cli:${hostname()}:${process.pid}`
  return {
    take: (operation: LockOperation, node: string) =>
      takeClusterLock(
        { holder, operation, node },
        { etcd, kube, clock, log },
        { force: opts.force === true, warn: say },
      ),
    close: () => etcd.close(),
  }
}

/**
 * POST /api/v1/drain on the admin config's nodes in turn: the first voter that reaches etcd
 * does it under the cluster lock (agent/components/drain-routes.ts) and answers when done.
 */
async function drainThroughApi(opts: CommonOpts, b: { node: string; undrain: boolean; timeoutMs: number }) {
  const adminPath = opts.admin ?? defaultAdminConfig()
  const admin = await readAdminConfig(adminPath)
  let last = 'no node in the admin config'
  for (const url of admin.urls) {
    const r = await adminCallAt(adminPath, url, 'POST', '/api/v1/drain', b, {
      timeoutMs: b.timeoutMs + 30_000,
    }).catch((err: Error) => ({ status: 0, body: { message: err.message } as Record<string, unknown> }))
    if (r.status === 200) {
      for (const l of (r.body.lines as string[] | undefined) ?? []) say(l)
      say(`${b.node}: ${String(r.body.outcome)}`)
      return
    }
    last = `${url}: ${String(r.body.message ?? `HTTP ${r.status}`)}`
    // This node does not reach etcd (or is no voter): ask the next; any other refusal is the answer.
    if (r.status !== 0 && r.status !== 503 && r.status !== 404) break
  }
  throw new HomecloudError(
    'API_UNREACHABLE',
    `the drain was not done: ${last}`,
    '`homecloud upgrade status` shows who holds the lock',
  )
}
