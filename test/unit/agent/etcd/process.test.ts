import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { EtcdProcess } from '../../../../agent/etcd/process.js'
import type { EtcdMemberSpec } from '../../../../agent/etcd/spec.js'
import { capturingLogger, standInBinary, tempDirs, until } from '../../../support/stand-in.js'

// EtcdProcess over the common Supervisor, with a shell script standing in for the etcd
// binary (it gets etcd's real arguments): how etcd's zap lines reach the agent log, its
// exit listener and status shape. Real etcd: test/cluster/etcd-tls-process.test.ts.

describe('EtcdProcess (a stand-in binary)', () => {
  const tempDir = tempDirs('etcdproc')
  const clock = systemClock()
  const specIn = (dir: string): EtcdMemberSpec => ({
    name: 'n1',
    dataDir: join(dir, 'data', 'etcd'),
    address: '10.77.0.2',
    initialCluster: [{ name: 'n1', peerUrl: 'https://10.77.0.2:2380' }],
    initialClusterState: 'new',
    initialClusterToken: 'c-123',
    tls: { caFile: 'ca', serverCertFile: 's', serverKeyFile: 'sk', peerCertFile: 'p', peerKeyFile: 'pk' },
  })

  it('logs zap lines as fields of the member, reports its exits, keeps its status shape', async () => {
    const dir = await tempDir()
    // One zap line (with fields named like the logger's own), then exit 2 on the first
    // run; later runs wait for SIGTERM.
    const fake = await standInBinary(
      dir,
      'etcd',
      `trap 'exit 0' TERM
n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n
echo '{"level":"warn","ts":"2026-01-01T00:00:00Z","msg":"run '$n'","member":"m-1","caller":"x.go:1"}' >&2
if [ $n = 0 ]; then echo "permanently removed" >&2; exit 2; fi
while true; do sleep 0.1; done
`,
    )
    const { logger, lines: logged } = capturingLogger()
    const proc = new EtcdProcess(
      { spec: specIn(dir), binary: fake, pidFile: join(dir, 'etcd.pid'), restart: { initialDelayMs: 50 } },
      { logger, clock },
    )
    const exits: { code: number | null; willRestart: boolean; removed: boolean }[] = []
    proc.onExit((exit, willRestart) =>
      exits.push({
        code: exit.code,
        willRestart,
        removed: exit.lastLines.some((l) => l.includes('permanently removed')),
      }),
    )
    await proc.start()
    await until(() => logged.some((l) => l.msg === 'run 1'), 'the second run')
    assert.deepEqual(exits, [{ code: 2, willRestart: true, removed: true }])
    const first = logged.find((l) => l.msg === 'run 0')
    assert.equal(first?.component, 'etcd')
    assert.equal(first?.member, 'n1')
    assert.equal(first?.etcd_member, 'm-1')
    assert.equal(first?.caller, 'x.go:1')
    assert.equal(first?.level, 40)
    assert.ok(logged.some((l) => l.msg === 'etcd exited unexpectedly; restarting'))
    const status = proc.status()
    assert.deepEqual(Object.keys(status).sort(), ['failures', 'lastExit', 'pid', 'restarts', 'state'])
    assert.equal(status.state, 'running')
    assert.equal(status.restarts, 1)
    assert.equal(status.failures, 1)
    assert.equal(typeof status.pid, 'number')
    const exit = await proc.stop(2000)
    assert.equal(exit?.code, 0)
    assert.equal(exits[1]?.code, 0)
    assert.equal(exits[1]?.willRestart, false)
    assert.equal(proc.status().state, 'stopped')
    assert.equal(proc.pid, undefined)
  })

  it('a missing etcd names the build command', async () => {
    const dir = await tempDir()
    const proc = new EtcdProcess(
      { spec: specIn(dir), binary: join(dir, 'no-etcd') },
      { logger: silentLogger(), clock },
    )
    await assert.rejects(proc.start(), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'ETCD_NOT_INSTALLED')
      assert.match(String(err.hint), /images\/etcd\/build\.sh/)
      return true
    })
    assert.equal(proc.status().state, 'stopped')
  })

  it('a bad spec is refused when the process is made', () => {
    assert.throws(
      () =>
        new EtcdProcess(
          { spec: { ...specIn('/tmp/x'), address: 'not-an-ip' } },
          { logger: silentLogger(), clock },
        ),
      /ETCD_PROCESS|IP address/,
    )
  })
})
