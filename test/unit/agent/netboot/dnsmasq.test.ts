import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { DnsmasqProcess } from '../../../../agent/netboot/dnsmasq.js'
import type { DnsmasqEvent } from '../../../../agent/netboot/dnsmasq-log.js'
import { capturingLogger, standInBinary, tempDirs, until } from '../../../support/stand-in.js'

// DnsmasqProcess over the common Supervisor, with a shell script standing in for
// dnsmasq (it gets dnsmasq's real arguments): its lines become boot events and log
// entries, a restart stops it and starts it again. Real dnsmasq: test/cluster/netboot-*.

describe('DnsmasqProcess (a stand-in binary)', () => {
  const tempDir = tempDirs('dnsmasq')
  const clock = systemClock()

  it('turns its lines into events and log entries; restart and stop kill it', async () => {
    const dir = await tempDir()
    // Records its arguments, logs like dnsmasq 2.90 (a PXE answer, an option dump), waits.
    const fake = await standInBinary(
      dir,
      'dnsmasq',
      `echo "$@" >> ${dir}/args
echo 'dnsmasq-dhcp[7]: 1 PXE(eth0) 52:54:00:12:34:56 proxy' >&2
echo 'dnsmasq-dhcp[7]: 1 sent size:  1 option: 53 message-type  5' >&2
while true; do sleep 0.1; done
`,
    )
    const { logger, lines: logged } = capturingLogger()
    const events: DnsmasqEvent[] = []
    const configFile = join(dir, 'dnsmasq.conf')
    const d = new DnsmasqProcess(
      { configFile, binary: fake },
      { log: logger, clock, onEvent: (e) => events.push(e) },
    )
    assert.equal(d.status().state, 'idle')
    await d.start()
    await until(() => events.length === 1, 'the PXE event')
    assert.deepEqual(events[0], { kind: 'pxe', mac: '52:54:00:12:34:56', ip: null, ipxe: false })
    const lines = logged.filter((l) => l.component === 'dnsmasq' && l.msg === 'dnsmasq')
    assert.deepEqual(
      lines.map((l) => l.line),
      ['dnsmasq-dhcp[7]: 1 PXE(eth0) 52:54:00:12:34:56 proxy'],
      'the option dump stays at debug',
    )
    const first = d.status()
    assert.equal(first.state, 'running')
    assert.equal(first.lastExit, null)

    await d.restart()
    await until(() => events.length === 2, 'the restarted one logs again')
    const second = d.status()
    assert.equal(second.state, 'running')
    assert.notEqual(second.pid, first.pid)
    assert.equal(second.lastExit?.signal, 'SIGKILL')
    assert.equal(second.restarts, 0, 'a restart we asked for is not a crash')
    const args = (await readFile(join(dir, 'args'), 'utf8')).trim().split('\n')
    assert.deepEqual(args, [
      `--keep-in-foreground --conf-file=${configFile}`,
      `--keep-in-foreground --conf-file=${configFile}`,
    ])

    await d.stop()
    assert.equal(d.status().state, 'stopped')
    assert.equal(d.status().pid, undefined)
  })

  it('a missing dnsmasq says which package to install', async () => {
    const d = new DnsmasqProcess(
      { configFile: '/nonexistent/dnsmasq.conf', binary: '/nonexistent/dnsmasq' },
      { log: silentLogger(), clock },
    )
    await assert.rejects(d.start(), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'NETBOOT_DNSMASQ')
      assert.match(String(err.hint), /dnsmasq-base/)
      return true
    })
  })
})
