import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AgentConfig } from '../../../../agent/config/schema.js'
import {
  agentCommand,
  execStartWords,
  installPaths,
  systemdWord,
  unitExecStart,
  unitFile,
} from '../../../../cli/install/unit.js'

describe('install: paths and the systemd unit', () => {
  it('puts the state in /var/lib/homecloud and the unit in /etc/systemd/system, under any root', () => {
    const p = installPaths('/')
    assert.equal(p.stateDir, '/var/lib/homecloud')
    assert.equal(p.unit, '/etc/systemd/system/homecloud.service')
    assert.equal(p.wantsLink, '/etc/systemd/system/multi-user.target.wants/homecloud.service')
    assert.equal(installPaths('/tmp/r').config, '/tmp/r/var/lib/homecloud/config.json')
  })

  it('quotes ExecStart words as systemd reads them, and reads them back', () => {
    assert.equal(systemdWord('/usr/bin/node'), '/usr/bin/node')
    assert.equal(systemdWord('/a dir/x'), '"/a dir/x"')
    assert.equal(systemdWord('100%'), '100%%')
    assert.equal(systemdWord('$HOME'), '$$HOME')
    assert.equal(systemdWord('a"b\\c'), '"a\\"b\\\\c"')
    assert.equal(systemdWord(''), '""')
    assert.throws(() => systemdWord('a\nb'), /line break/)
    const words = ['/opt/my node/bin/node', 'x%y', '$z', 'q"uote', 'back\\slash', 'plain']
    assert.deepEqual(execStartWords(words.map(systemdWord).join(' ')), words)
  })

  it('the unit runs the agent on the state directory, logs to journald, restarts on failure, wanted at boot', () => {
    const u = {
      paths: installPaths('/'),
      nodeBin: '/opt/homecloud/node',
      cli: '/opt/homecloud/bin/homecloud.js',
    }
    const text = unitFile(u)
    assert.deepEqual(unitExecStart(text), agentCommand(u))
    assert.deepEqual(agentCommand(u).slice(2), [
      'agent',
      '--state',
      '/var/lib/homecloud',
      '--config',
      '/var/lib/homecloud/config.json',
    ])
    for (const line of [
      'StandardError=journal',
      'Restart=on-failure',
      'KillMode=mixed',
      'WantedBy=multi-user.target',
      'After=network-online.target',
    ])
      assert.ok(text.split('\n').includes(line), line)
    assert.equal(unitExecStart('[Service]\nType=exec\n'), null)
  })

  it('systemd waits long enough for a stopping node to drain itself first, then stop', () => {
    const text = unitFile({ paths: installPaths('/'), nodeBin: '/n', cli: '/c' })
    const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1])
    const drainMs = AgentConfig.parse({}).shutdownDrain.timeoutMs
    assert.ok(
      stopSec * 1000 >= drainMs + 60_000,
      `TimeoutStopSec=${stopSec} leaves a minute after a ${drainMs} ms drain`,
    )
  })
})
