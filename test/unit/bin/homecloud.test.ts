import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { execa } from 'execa'
import { packageRoot } from '../../../agent/core/package-root.js'

// bin/homecloud.js started by an older node re-runs itself under the pinned Node.js as a
// child. A process manager stopping the wrapper must stop that child too, and the wrapper
// must end the way the child did. Run under the machine's old node (Debian's, which
// scripts/setup.sh uses to fetch the pinned one); the pinned node is stood in for by a
// shell script that records the signals it gets.

const OLD_NODE = '/usr/bin/node'
const oldMajor = (() => {
  try {
    return Number(execFileSync(OLD_NODE, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }))
  } catch {
    return null
  }
})()
const skip = oldMajor === null || oldMajor >= 24 ? `no Node.js older than 24 at ${OLD_NODE}` : false

// The pid file is written after the traps are set: a signal sent as soon as the test sees
// the pid must find them in place.
const standIn = `#!/bin/sh
trap 'echo TERM >> "$HC_WRAP_DIR/got"; exit 3' TERM
trap 'echo INT >> "$HC_WRAP_DIR/got"; exit 4' INT
trap 'echo HUP >> "$HC_WRAP_DIR/got"; trap - HUP; kill -HUP $$' HUP
echo $$ > "$HC_WRAP_DIR/child.pid"
echo "args: $*"
while :; do sleep 0.05; done
`

// The timeout only guards against a hang: five old-node starts can take long on a loaded machine.
describe('bin/homecloud.js under an old node', { skip, timeout: 120_000 }, () => {
  let dir: string
  const children: number[] = []
  const bin = join(packageRoot(), 'bin', 'homecloud.js')
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-wrapper-'))
    const pinned = (await readFile(join(packageRoot(), 'scripts', 'node.sh'), 'utf8')).match(
      /^HOMECLOUD_NODE_VERSION=(\S+)/m,
    )![1]
    const arch = process.arch === 'x64' ? 'amd64' : process.arch
    const nodeDir = join(dir, 'cache', 'homecloud', 'node', `v${pinned}-${arch}`, 'bin')
    await mkdir(nodeDir, { recursive: true })
    await writeFile(join(nodeDir, 'node'), standIn)
    await chmod(join(nodeDir, 'node'), 0o755)
  })
  after(async () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    await rm(dir, { recursive: true, force: true })
  })

  const start = async (name: string) => {
    const run = join(dir, name)
    await mkdir(run)
    const wrapper = execa(OLD_NODE, [bin, 'status', '--json'], {
      env: { XDG_CACHE_HOME: join(dir, 'cache'), HC_WRAP_DIR: run },
      reject: false,
    })
    let childPid = 0
    for (let i = 0; i < 400 && !childPid; i++) {
      await new Promise((r) => setTimeout(r, 25))
      childPid = Number((await readFile(join(run, 'child.pid'), 'utf8').catch(() => '')).trim())
    }
    assert.ok(childPid > 0, 'the pinned node (stand-in) was started')
    children.push(childPid)
    const got = async () => (await readFile(join(run, 'got'), 'utf8').catch(() => '')).trim()
    return { wrapper, childPid, got }
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }

  test('passes its arguments on and exits with the child’s code', async () => {
    const { wrapper, childPid } = await start('args')
    process.kill(childPid, 'SIGTERM')
    const r = await wrapper
    assert.match(r.stdout, new RegExp(`^args: ${bin} status --json$`, 'm'))
    assert.equal(r.exitCode, 3)
  })

  for (const [signal, code] of [
    ['SIGTERM', 3],
    ['SIGINT', 4],
  ] as const) {
    test(`${signal} to the wrapper stops the child; the wrapper exits as it did`, async () => {
      const { wrapper, childPid, got } = await start(signal)
      wrapper.kill(signal)
      const r = await wrapper
      assert.equal(await got(), signal.slice(3))
      assert.equal(r.exitCode, code)
      assert.equal(alive(childPid), false, 'no child left running')
    })
  }

  test('a child killed by a signal: the wrapper dies of the same signal', async () => {
    const { wrapper, childPid, got } = await start('hup')
    wrapper.kill('SIGHUP')
    const r = await wrapper
    assert.equal(await got(), 'HUP')
    assert.equal(r.signal, 'SIGHUP')
    assert.equal(alive(childPid), false)
  })

  test('without the pinned node it says how to get it', async () => {
    const r = await execa(OLD_NODE, [bin, 'status'], {
      env: { XDG_CACHE_HOME: join(dir, 'empty') },
      reject: false,
    })
    assert.equal(r.exitCode, 2)
    assert.match(r.stderr, /needs Node\.js 24 .*bash scripts\/setup\.sh/)
  })
})
