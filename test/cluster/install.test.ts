import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ClusterViewSchema } from '../../agent/api/cluster-schema.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { etcdBinDir } from '../../agent/etcd/binaries.js'
import { AdminConfig } from '../../agent/trust/admin-config.js'
import { installPaths, unitExecStart } from '../../cli/install/unit.js'
import { waitFor } from '../../lab/wait.js'
import { onCleanup, testLabPrefix } from '../support/lab.js'
import { bootMachine, leftBehind, type Machine, systemdRoot, treeOf } from '../support/nspawn.js'

// `homecloud install` on an existing Debian machine (issue 15), under a real systemd as
// PID 1: a Debian bookworm root with systemd (images/systemd-root/build.sh, cached) booted
// by systemd-nspawn in a network namespace of the test's own (its LAN: one veth, no route
// out), with the checkout, Node.js and the pinned etcd bound in read-only where the unit
// runs them from. Inside: install founds a cluster and systemd starts the unit; the agent
// answers its status page and its mutual-TLS API from outside, logs to journald, restarts
// and stops cleanly on systemd's SIGTERM; uninstall refuses while the node holds the
// cluster's only etcd member and CA key, and with --force stops the unit and leaves no
// file, unit, user or process behind. Needs root (namespaces, mounts).

const root = process.getuid?.() === 0
const NS = `hcinst-${process.pid}`
const HOST_VETH = `hci${process.pid}`.slice(0, 15)
const ADDR = '10.77.240.2'
const STATUS = `http://${ADDR}:7080`
const UNIT = 'homecloud.service'
const p = installPaths('/')

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

function netnsDown(): void {
  spawnSync('ip', ['link', 'del', HOST_VETH])
  spawnSync('ip', ['netns', 'del', NS])
}

function netnsUp(): void {
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
}

/**
 * GET /api/v1/whoami on the agent API (7443, mutual TLS) with the admin certificate
 * install's founding wrote (admin.json names its files as the machine sees them; `upper`
 * holds them on the host): the profile the agent read from that certificate.
 */
async function apiWhoami(upper: string): Promise<string> {
  const inside = (f: string) => readFile(join(upper, f), 'utf8')
  const admin = AdminConfig.parse(JSON.parse(await inside(join(p.stateDir, 'admin.json'))))
  const tls = { ca: await inside(admin.caCert), cert: await inside(admin.cert), key: await inside(admin.key) }
  return new Promise((resolve, reject) => {
    const req = request(`https://${ADDR}:7443/api/v1/whoami`, { ...tls, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(String((JSON.parse(body) as { profile?: unknown }).profile))
          : reject(new Error(`7443 answered ${res.statusCode}: ${body}`)),
      )
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.end()
  })
}

/** The node's own id once it answers, founded etcd alone and coordinates. */
async function founded(): Promise<string> {
  let self = ''
  await waitFor(
    async () => {
      const res = await fetch(`${STATUS}/api/v1/cluster`, { signal: AbortSignal.timeout(2000) }).catch(
        () => null,
      )
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
  return self
}

describe('homecloud install / uninstall on a Debian machine with systemd (nspawn)', {
  skip: !root && 'needs root for a network namespace and the container',
  timeout: 420_000,
}, () => {
  let m: Machine | undefined
  let base = ''
  let rootfs = ''
  const teardown = () => {
    m?.destroy()
    m = undefined
    netnsDown()
  }
  // Also on SIGINT/SIGTERM (onCleanup) and at exit; were this process SIGKILLed, the
  // suite's reaper kills the machine (its PID 1 carries the lab directory in its environment).
  process.once('exit', teardown)
  onCleanup(async () => teardown())
  after(async () => {
    teardown()
    if (base && !process.env.HOMECLOUD_KEEP_LABS) await rm(base, { recursive: true, force: true })
  })

  const sh = (args: string[], timeoutMs?: number) => {
    const r = m!.run(args, timeoutMs)
    assert.equal(r.code, 0, `${args.join(' ')} → ${r.code}: ${r.out}`)
    return r.stdout.trim()
  }
  const show = (prop: string) => sh(['systemctl', 'show', UNIT, '--value', '-p', prop])
  const journal = () => sh(['journalctl', '--no-pager', '-o', 'cat', '-u', UNIT])
  const cli = (args: string[]) =>
    m!.run([process.execPath, join(packageRoot(), 'bin', 'homecloud.js'), ...args], 120_000)

  before(async (t) => {
    // Built once and cached by its inputs (about a minute cold): the time is printed.
    rootfs = systemdRoot((l) => t.diagnostic(l))
    // Named like a test lab: the suite's reaper kills the machine if this process dies.
    base = await mkdtemp(join(tmpdir(), testLabPrefix()))
    netnsUp()
    m = await bootMachine({
      dir: base,
      name: `hcinst${process.pid}`.slice(0, 15),
      netns: NS,
      rootfs,
      binds: [
        // The unit runs the agent from where the CLI is, with the Node.js it was run by.
        { host: packageRoot() },
        { host: dirname(dirname(process.execPath)) },
        // The pinned etcd where a root service finds it (no HOMECLOUD_CACHE in its environment).
        { host: etcdBinDir(), inside: etcdBinDir({ HOMECLOUD_CACHE: '/root/.cache/homecloud' }) },
      ],
    })
  })

  it('installs as a systemd unit, runs, restarts, stops on SIGTERM and uninstalls leaving nothing', async (t) => {
    const machine = m!
    assert.equal(sh(['cat', '/proc/1/comm']), 'systemd', "systemd is the machine's PID 1")
    const filesBefore = await treeOf(machine.upper)
    const usersBefore = sh(['cat', '/etc/passwd', '/etc/group', '/etc/shadow'])

    const installed = cli(['install', '--node-name', 'laptop-1'])
    assert.equal(installed.code, 0, installed.out)
    assert.match(installed.out, /founded cluster home \([0-9a-f]+\); this node is [0-9a-f]+/)
    assert.match(installed.out, new RegExp(`status: http://${ADDR.replaceAll('.', '\\.')}:7080/`))
    assert.match(installed.out, /running; logs: journalctl -u homecloud/)
    assert.equal(sh(['stat', '-c', '%a', p.stateDir]), '700', 'the state directory is private')
    assert.equal(sh(['systemctl', 'is-enabled', UNIT]), 'enabled')
    assert.equal(sh(['systemctl', 'is-active', UNIT]), 'active')
    sh(['systemd-analyze', 'verify', p.unit])
    const unit = sh(['cat', p.unit])
    assert.deepEqual(unitExecStart(unit)?.slice(2), ['agent', '--state', p.stateDir, '--config', p.config])
    const again = cli(['install'])
    assert.equal(again.code, 1)
    assert.match(again.out, /already installed/)

    // Up: the status page and the mutual-TLS agent API answer on its LAN address.
    const self = await founded()
    const page = await (await fetch(`${STATUS}/`)).text()
    assert.match(page, /laptop-1/, 'the status page names the node')
    assert.equal(await apiWhoami(machine.upper), 'admin', '7443 knows the admin certificate')
    // Its logs are journald's, under the unit and its own identifier.
    assert.match(journal(), /"msg":"agent starting"/)
    assert.match(sh(['journalctl', '--no-pager', '-o', 'cat', '-t', 'homecloud']), /"msg":"agent starting"/)

    // systemctl restart: SIGTERM, a clean exit, a new process; the same node comes back.
    const pid1 = show('MainPID')
    sh(['systemctl', 'restart', UNIT], 180_000)
    assert.notEqual(show('MainPID'), pid1, 'a new agent process')
    assert.equal(await founded(), self, 'the same node, from the same state')
    assert.equal(journal().match(/"msg":"agent starting"/g)?.length, 2)

    // Uninstall refuses: this is the cluster's only etcd member and holds its CA key.
    const refused = cli(['uninstall'])
    assert.equal(refused.code, 1, refused.out)
    assert.match(refused.out, /uninstalling would delete this node's etcd member/)
    assert.match(refused.out, /the cluster CA key/)
    assert.match(refused.out, /--force/)
    assert.equal(sh(['systemctl', 'is-active', UNIT]), 'active', 'still running, nothing removed')

    // systemctl stop: SIGTERM to the agent, which stops etcd itself and exits 0, well
    // before TimeoutStopSec; nothing is left in the unit's cgroup for systemd to kill.
    sh(['systemctl', 'stop', UNIT], 180_000)
    assert.equal(show('Result'), 'success')
    assert.equal(show('ExecMainCode'), '1', 'exited (CLD_EXITED), not killed by a signal')
    assert.equal(show('ExecMainStatus'), '0')
    assert.match(journal(), /"msg":"agent stopping"/)
    // What systemd itself said about the unit (its own lines, from PID 1).
    const systemdSaid = sh(['journalctl', '--no-pager', '-o', 'cat', '_PID=1', `UNIT=${UNIT}`])
    assert.match(systemdSaid, /Deactivated successfully/)
    assert.doesNotMatch(systemdSaid, /SIGKILL|Failed with result|timed out|left-over process/)
    sh(['systemctl', 'start', UNIT])
    await founded()

    // uninstall --force on the running node: stopped and disabled by systemctl, then gone.
    const forced = cli(['uninstall', '--force'])
    assert.equal(forced.code, 0, forced.out)
    assert.match(forced.out, /stopping and disabling homecloud\.service/)
    const status = machine.run(['systemctl', 'status', UNIT])
    assert.equal(status.code, 4, `systemd no longer knows the unit: ${status.out}`)
    const files = machine.run(['systemctl', 'list-unit-files', '--no-legend', 'homecloud*'])
    assert.doesNotMatch(files.stdout, /homecloud/, 'no unit file left')
    const procs = sh(['ps', '-e', '-o', 'comm='])
    assert.doesNotMatch(procs, /^(node|etcd)$/m, 'no agent or etcd process left')
    assert.equal(machine.run(['test', '-e', p.stateDir]).code, 1, 'the state directory is gone')
    assert.equal(
      sh(['cat', '/etc/passwd', '/etc/group', '/etc/shadow']),
      usersBefore,
      'no user or group added',
    )
    // No file the machine did not have before install (systemd's own aside: its journal,
    // which keeps the unit's logs as it does a removed package's, and timer stamps).
    assert.deepEqual(await leftBehind(machine, rootfs, filesBefore), [], 'install left no file behind')
    t.diagnostic(
      `node ${self} ran under systemd, restarted, stopped cleanly and was uninstalled without a trace`,
    )
  })
})
