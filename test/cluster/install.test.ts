import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ClusterViewSchema } from '../../agent/api/cluster-schema.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { installPaths, unitExecStart } from '../../cli/install/unit.js'
import { LAB_ENV } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { testLabPrefix } from '../support/lab.js'

// `homecloud install` on an existing machine (issue 15), for real but under a temporary
// root: install in a network namespace of its own (its LAN: one veth), check the unit with
// systemd-analyze, run the unit's ExecStart as systemd would (clean environment, cwd /,
// stdin from /dev/null, output to the journal — here a file), see the agent found its
// cluster and answer its status port, stop it as systemd does (SIGTERM), then uninstall:
// refused while the state holds the cluster's only etcd member and CA key, done with
// --force, and nothing left under the root. Needs root (namespaces).

const root = process.getuid?.() === 0
const NS = `hcinst-${process.pid}`
const HOST_VETH = `hci${process.pid}`.slice(0, 15)
const ADDR = '10.77.240.2'
// What systemd (252, Debian 12) gives a system service: no HOME, its own PATH.
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

function netnsDown(): void {
  spawnSync('ip', ['link', 'del', HOST_VETH])
  spawnSync('ip', ['netns', 'del', NS])
}

/** The CLI inside the namespace; resolves with its exit code and output. */
function cli(args: string[]): { code: number; out: string } {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', NS, process.execPath, join(packageRoot(), 'bin', 'homecloud.js'), ...args],
    { encoding: 'utf8', timeout: 60_000 },
  )
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` }
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[])
  return entries.sort()
}

describe('homecloud install / uninstall on a machine (temporary root, own namespace)', {
  skip: !root && 'needs root for a network namespace',
  timeout: 240_000,
}, () => {
  let agentPid: number | undefined
  const cleanups: (() => Promise<void> | void)[] = []
  const stopAgent = () => {
    if (agentPid === undefined) return
    try {
      process.kill(-agentPid, 'SIGKILL')
    } catch {}
    agentPid = undefined
  }
  process.once('exit', () => {
    stopAgent()
    netnsDown()
  })
  after(async () => {
    stopAgent()
    for (const c of cleanups.reverse()) await c()
    netnsDown()
  })

  it('installs, runs as its unit says, founds a cluster, stops, and uninstalls leaving nothing', async (t) => {
    // The root is named like a test lab so the suite's reaper stops the agent if this dies.
    const base = await mkdtemp(join(tmpdir(), testLabPrefix()))
    cleanups.push(() => rm(base, { recursive: true, force: true }))
    const r = join(base, 'root')
    netnsDown()
    ip('netns', 'add', NS)
    ip('link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS)
    ip('addr', 'add', '10.77.240.1/30', 'dev', HOST_VETH)
    ip('link', 'set', HOST_VETH, 'up')
    ip('-n', NS, 'addr', 'add', `${ADDR}/30`, 'dev', 'eth0')
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    ip('-n', NS, 'link', 'set', 'eth0', 'up')
    // mDNS has a way out (as on a LAN); no default route: nothing leaves the namespace pair.
    ip('-n', NS, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')

    const installed = cli(['install', '--root', r, '--node-name', 'laptop-1'])
    assert.equal(installed.code, 0, installed.out)
    assert.match(installed.out, /founded cluster home \([0-9a-f]+\); this node is [0-9a-f]+/)
    assert.match(installed.out, new RegExp(`status: http://${ADDR.replaceAll('.', '\\.')}:7080/`))
    const p = installPaths(r)
    assert.equal((await stat(p.stateDir)).mode & 0o777, 0o700, 'the state directory is private')
    assert.equal(await readlink(p.wantsLink), '../homecloud.service', 'enabled as systemctl enable would')
    const unit = await readFile(p.unit, 'utf8')
    assert.match(unit, /^StandardError=journal$/m)
    assert.match(unit, /^WantedBy=multi-user\.target$/m)
    // Installing again changes nothing and says why.
    const again = cli(['install', '--root', r])
    assert.equal(again.code, 1)
    assert.match(again.out, /already installed/)

    const analyze = spawnSync('systemd-analyze', ['verify', p.unit], { encoding: 'utf8' })
    if (analyze.error)
      t.diagnostic(`systemd-analyze not available (${analyze.error.message}): unit not verified`)
    else assert.equal(analyze.status, 0, `systemd-analyze verify: ${analyze.stderr}`)

    // ExecStart, run as systemd runs it.
    const argv = unitExecStart(unit)
    assert.ok(argv && argv.length > 2, 'the unit has an ExecStart')
    assert.deepEqual(argv.slice(2), ['agent', '--state', p.stateDir, '--config', p.config])
    const journal = join(base, 'journal.log')
    const out = createWriteStream(journal)
    await new Promise((res) => out.once('open', res))
    const agent = spawn(
      'ip',
      ['netns', 'exec', NS, 'env', '-i', `PATH=${SYSTEMD_PATH}`, `${LAB_ENV}=${base}`, ...argv],
      {
        cwd: '/',
        stdio: ['ignore', out, out],
        detached: true,
      },
    )
    agentPid = agent.pid
    const exited = new Promise<number | null>((res) => agent.once('exit', (code) => res(code)))

    // Up: the status port answers, the node founded etcd alone and coordinates.
    let self = ''
    await waitFor(
      async () => {
        const res = await fetch(`http://${ADDR}:7080/api/v1/cluster`, {
          signal: AbortSignal.timeout(2000),
        }).catch(() => null)
        if (!res?.ok) return 'status port not answering'
        const v = ClusterViewSchema.parse(await res.json())
        self = v.self
        const cp = v.controlPlane
        return cp.source === 'etcd' && cp.quorum && cp.voters.length === 1 && cp.voters[0] === v.self
          ? true
          : `control plane: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    )
    const page = await (await fetch(`http://${ADDR}:7080/`)).text()
    assert.match(page, /laptop-1/, 'the status page names the node')
    const logged = await readFile(journal, 'utf8')
    assert.match(logged, /"msg":"agent starting"/, 'the agent logs to its output (journald under systemd)')

    // Stopped as systemd stops it (KillMode=mixed: SIGTERM to the agent, which stops etcd).
    process.kill(agent.pid!, 'SIGTERM')
    const code = await exited
    agentPid = undefined
    assert.equal(code, 0, 'the agent exits cleanly on SIGTERM')
    await waitFor(
      async () => {
        const left = spawnSync('pgrep', ['-f', p.stateDir], { encoding: 'utf8' }).stdout.trim()
        return left === '' ? true : `still running: ${left}`
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    )

    // Uninstall refuses: this is the cluster's only etcd member and holds its CA key.
    const refused = cli(['uninstall', '--root', r])
    assert.equal(refused.code, 1, refused.out)
    assert.match(refused.out, /uninstalling would delete this node's etcd member/)
    assert.match(refused.out, /the cluster CA key/)
    assert.match(refused.out, /--force/)
    assert.ok(existsSync(p.unit) && existsSync(join(p.stateDir, 'cluster.json')), 'nothing removed')

    const forced = cli(['uninstall', '--root', r, '--force'])
    assert.equal(forced.code, 0, forced.out)
    assert.deepEqual(await listTree(r), [], 'nothing left under the root')
    assert.ok(existsSync(r), 'the root itself (not install’s) stays')
    t.diagnostic(`node ${self} installed, ran, founded its cluster and was uninstalled without a trace`)
  })
})
