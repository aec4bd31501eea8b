import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { parseKlogLine, Supervisor } from '../../../../agent/core/supervisor.js'
import { capturingLogger } from '../../../support/stand-in.js'

describe('parseKlogLine', () => {
  test('klog prefixes map to levels', () => {
    assert.deepEqual(parseKlogLine('I1121 08:56:36.123456    1234 server.go:12] Serving securely'), {
      level: 'info',
      msg: 'Serving securely',
    })
    assert.equal(parseKlogLine('W1121 08:56:36.123456 1 x.go:1] careful').level, 'warn')
    assert.equal(parseKlogLine('E1121 08:56:36.123456 1 x.go:1] broken').level, 'error')
    assert.equal(parseKlogLine('F1121 08:56:36.123456 1 x.go:1] dead').level, 'fatal')
  })
  test('other lines are judged by their words', () => {
    assert.equal(parseKlogLine('Error: unknown flag: --nope').level, 'error')
    assert.equal(parseKlogLine('panic: runtime error').level, 'fatal')
    assert.equal(parseKlogLine('hello').level, 'info')
  })
})

// Real processes: a shell script stands in for a long-running component.
describe('Supervisor (real processes)', () => {
  const dirs: string[] = []
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })
  const clock = systemClock()
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const until = async (cond: () => boolean | Promise<boolean>, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (await cond()) return
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.fail(`timed out: ${what}`)
  }

  test('restarts a crashing program with backoff, stops with SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-sup-'))
    dirs.push(dir)
    const marker = `--marker=${dir}`
    // Dies after a moment on the first run, then keeps running (a counter file, written
    // once the TERM trap is set, so the test knows when SIGTERM will be an exit 0).
    const script = `trap 'exit 0' TERM; n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n; echo "I1121 00:00:00.000000 1 a.go:1] run $n"; if [ $n = 0 ]; then exit 3; fi; while true; do sleep 0.1; done`
    const s = new Supervisor(
      {
        name: 'test-prog',
        binary: 'sh',
        args: ['-c', script, marker],
        marker,
        pidFile: join(dir, 'pid'),
        restart: { initialDelayMs: 50 },
      },
      { logger: silentLogger(), clock },
    )
    await s.start()
    await until(() => s.status().restarts === 1 && s.status().state === 'running', 'one restart')
    assert.equal(s.status().lastExit?.code, 3)
    assert.ok(s.status().lastExit?.lastLines.some((l) => l.includes('run 0')))
    const pid = s.pid!
    await until(async () => (await readFile(join(dir, 'pid'), 'utf8')).trim() === String(pid), 'pid file')
    await until(async () => (await readFile(join(dir, 'n'), 'utf8')).trim() === '2', 'second run traps TERM')
    const exit = await s.stop(2000)
    assert.equal(exit?.code, 0)
    assert.equal(s.status().state, 'stopped')
    assert.equal(alive(pid), false)
    await assert.rejects(readFile(join(dir, 'pid')))
  })

  test('SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-sup-'))
    dirs.push(dir)
    const marker = `--marker=${dir}`
    const s = new Supervisor(
      {
        name: 'stubborn',
        binary: 'sh',
        args: ['-c', "trap '' TERM; while true; do sleep 0.1; done", marker],
        marker,
      },
      { logger: silentLogger(), clock },
    )
    await s.start()
    await new Promise((r) => setTimeout(r, 300)) // the shell installs its trap first
    const exit = await s.stop(300)
    assert.equal(exit?.signal, 'SIGKILL')
  })

  test('a leftover from a crashed agent is killed through the pid file, a stranger is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-sup-'))
    dirs.push(dir)
    const marker = `--marker=${dir}`
    const pidFile = join(dir, 'pid')
    const first = new Supervisor(
      { name: 'p', binary: 'sh', args: ['-c', 'while true; do sleep 0.1; done', marker], marker, pidFile },
      { logger: silentLogger(), clock },
    )
    await first.start()
    const orphan = first.pid!
    // The agent "crashes": the supervisor object is gone, the child still runs.
    const second = new Supervisor(
      { name: 'p', binary: 'sh', args: ['-c', 'while true; do sleep 0.1; done', marker], marker, pidFile },
      { logger: silentLogger(), clock },
    )
    await second.start()
    await until(() => !alive(orphan), 'the orphan is killed')
    await second.kill()
    await first.kill()

    // A pid file naming a process without our marker (pid reuse) leaves that process alone.
    const stranger = new Supervisor(
      {
        name: 's',
        binary: 'sh',
        args: ['-c', 'while true; do sleep 0.1; done', '--other'],
        marker: '--other',
      },
      { logger: silentLogger(), clock },
    )
    await stranger.start()
    const { writeFile } = await import('node:fs/promises')
    await writeFile(pidFile, `${stranger.pid}\n`)
    const third = new Supervisor(
      { name: 'p', binary: 'sh', args: ['-c', 'while true; do sleep 0.1; done', marker], marker, pidFile },
      { logger: silentLogger(), clock },
    )
    await third.start()
    assert.equal(alive(stranger.pid!), true)
    await third.kill()
    await stranger.kill()
  })

  test('exit hook, structured lines, every line seen, failures counted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-sup-'))
    dirs.push(dir)
    const marker = `--marker=${dir}`
    const { logger, lines: logged } = capturingLogger()
    const seen: string[] = []
    const exits: { code: number | null; willRestart: boolean }[] = []
    // Crashes on the first run (two lines, one below the log level), then keeps running.
    const script = `trap 'exit 0' TERM; n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n; echo "quiet $n"; echo "loud $n"; if [ $n = 0 ]; then exit 4; fi; while true; do sleep 0.1; done`
    const s = new Supervisor(
      {
        name: 'hooked',
        binary: 'sh',
        args: ['-c', script, marker],
        marker,
        restart: { initialDelayMs: 50 },
        logBindings: { component: 'hooked' },
        parseLine: (line) => ({
          level: line.startsWith('quiet') ? 'debug' : 'warn',
          msg: 'said',
          fields: { line },
        }),
        onLine: (line) => seen.push(line),
      },
      { logger, clock },
    )
    s.onExit((exit, willRestart) => exits.push({ code: exit.code, willRestart }))
    await s.start()
    await until(() => s.status().restarts === 1 && seen.includes('loud 1'), 'one restart')
    assert.deepEqual(exits, [{ code: 4, willRestart: true }])
    assert.equal(s.status().failures, 1)
    assert.ok(seen.includes('quiet 0') && seen.includes('quiet 1'), 'lines below the level are seen')
    const said = logged.filter((l) => l.msg === 'said')
    assert.ok(said.some((l) => l.line === 'loud 0' && l.component === 'hooked' && l.proc === undefined))
    assert.ok(!said.some((l) => String(l.line).startsWith('quiet')))
    await s.stop(2000)
    assert.deepEqual(exits[1], { code: 0, willRestart: false })
  })

  test('a program names its own install hint when it is missing', async () => {
    const s = new Supervisor(
      {
        name: 'ghost',
        binary: '/nonexistent/ghost',
        args: ['--x'],
        marker: '--x',
        startError: (err) => new HomecloudError('NETBOOT_DNSMASQ', `${err.code}: ghost`),
      },
      { logger: silentLogger(), clock },
    )
    await assert.rejects(s.start(), /ENOENT: ghost/)
    assert.equal(s.status().state, 'stopped')
  })

  test('a missing program is a clear error', async () => {
    const s = new Supervisor(
      { name: 'ghost', binary: '/nonexistent/kube-ghost', args: ['--x'], marker: '--x' },
      { logger: silentLogger(), clock },
    )
    await assert.rejects(s.start(), /KUBE_NOT_INSTALLED|not found/)
  })
})
