import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { packageRoot } from '../../agent/core/package-root.js'
import { readCertificate } from '../../agent/pki/cert.js'
import { pkiPaths } from '../../agent/pki/store.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labAdd, labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { eventually, startLab, stateOf, view } from '../support/lab.js'

const run = promisify(execFile)
const bin = join(packageRoot(), 'bin', 'homecloud.js')

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

async function certOf(node: LabNode) {
  return readCertificate(await readFile(pkiPaths(node.stateDir).nodeCert, 'utf8'))
}

/** The serial of the certificate a node's 7443 listener presents right now. */
function servedSerial(node: LabNode): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: node.address, port: 7443, rejectUnauthorized: false }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? ''
      s.destroy()
      resolve(serial.replace(/^0+/, ''))
    })
    s.on('error', reject)
  })
}

describe('founding and joining', () => {
  it('four nodes join by themselves with certificates the CA and openssl accept', async () => {
    const lab = await startLab({ nodes: 5 })
    const ca = pkiPaths(lab.nodes[0]!.stateDir).caCert
    for (const n of lab.nodes) {
      const r = await run('openssl', ['verify', '-CAfile', ca, pkiPaths(n.stateDir).nodeCert])
      assert.match(r.stdout, /: OK/)
      const cert = await certOf(n)
      assert.equal(cert.profile, 'agent')
      assert.equal(cert.commonName, (await view(n)).self)
      const key = await readFile(pkiPaths(n.stateDir).nodeKey)
      assert.ok(key.length > 0)
    }
    // The CA key stays with signers (the founder, and etcd members it chooses): workers
    // that can never hold an etcd vote (SD card, x86) never get it.
    for (const n of lab.nodes.filter((x) => x.board === 'pi4' || x.board.startsWith('x86'))) {
      await assert.rejects(readFile(pkiPaths(n.stateDir).caKey), /ENOENT/)
    }
  })

  it('under the approve policy a node waits as pending with its code until approved', async () => {
    const lab = await startLab({ nodes: 3 })
    const admin = join(lab.dir, 'admin.json')
    assert.equal((await cli('settings', '--join-policy', 'approve', '--admin', admin)).code, 0)
    const newcomer = await labAdd(lab.dir, 'pi5', { wait: false })
    // The newcomer's own console (its view of itself) shows the code the user compares.
    let code = ''
    await eventually(
      [newcomer],
      (v) => {
        const self = v.members.find((m) => m.self)
        code = self?.code ?? ''
        return self?.state === 'pending' && code !== ''
      },
      'newcomer knows its code',
    )
    await eventually(
      lab.nodes,
      (v) => v.members.some((m) => m.name === newcomer.name && m.state === 'pending' && m.code === code),
      'pending everywhere with the same code',
    )
    const before = await view(lab.nodes[1]!)
    assert.equal(
      before.members.filter((m) => m.state === 'alive').length,
      3,
      'a pending node is not a member',
    )

    const approved = await cli('approve', newcomer.name, '--admin', admin)
    assert.equal(approved.code, 0, approved.stderr)
    await eventually(
      [...lab.nodes, newcomer],
      (v) => v.members.filter((m) => m.state === 'alive').length === 4,
      'approved node joined',
    )

    const unknown = await cli('approve', 'no-such-node', '--admin', admin)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no pending node "no-such-node"/)
  })

  it('a revoked node is refused by every member, including one that was offline at the time', async () => {
    const lab = await startLab({ nodes: 5 })
    const admin = join(lab.dir, 'admin.json')
    const [founder, , , offline, victim] = lab.nodes as [LabNode, LabNode, LabNode, LabNode, LabNode]
    const victimId = (await view(victim)).self
    await labUnplug(lab.dir, offline.name)
    const r = await cli('revoke', victim.name, '--admin', admin, '--reason', 'stolen')
    assert.equal(r.code, 0, r.stderr)
    const online = lab.nodes.filter((n) => n !== offline && n !== victim)
    await eventually(online, (v) => stateOf(v, victim.name) === undefined, 'victim gone from every view')

    await labPlug(lab.dir, offline.name)
    await eventually(
      [offline],
      (v) => v.members.filter((m) => m.state === 'alive').length === 4,
      'offline node back, victim excluded',
    )
    await waitFor(
      async () => {
        const text = await readFile(pkiPaths(offline.stateDir).revocations, 'utf8').catch(() => '')
        return text.includes(victimId) ? true : 'the late node has not stored the revocation yet'
      },
      { timeoutMs: 30_000 },
    )
    // Still refused after the victim restarts: its certificate and its join attempts.
    await labUnplug(lab.dir, victim.name)
    await labPlug(lab.dir, victim.name)
    await new Promise((res) => setTimeout(res, 3000))
    for (const n of lab.nodes.filter((x) => x !== victim)) {
      const v = await view(n)
      assert.equal(stateOf(v, victim.name), undefined, `${n.name} still refuses ${victim.name}`)
    }
    const m = await (await fetch(new URL('/metrics', nodeUrl(founder)))).text()
    assert.match(
      m,
      /homecloud_(joins_refused|mesh_messages_dropped|mesh_connections_refused)_total\{reason="revoked"\} [1-9]/,
    )
  })

  it('certificates renew at two thirds of their lifetime without a restart', async () => {
    const lab = await startLab({ nodes: 3, certValidityMs: 15_000 })
    const first = await Promise.all(lab.nodes.map(certOf))
    const servedBefore = await servedSerial(lab.nodes[1]!)
    assert.equal(servedBefore, first[1]!.serial.replace(/^0+/, ''))
    // Every node, founder (self-renewal) and joiners (renewal through the signer), gets a new serial.
    const deadline = Date.now() + 60_000
    for (;;) {
      const now = await Promise.all(lab.nodes.map(certOf))
      if (now.every((c, i) => c.serial !== first[i]!.serial)) break
      assert.ok(Date.now() < deadline, 'certificates renewed within a lifetime')
      const v = await view(lab.nodes[0]!)
      assert.equal(
        v.members.filter((mm) => mm.state === 'alive').length,
        3,
        'the mesh stays whole while renewing',
      )
      await new Promise((res) => setTimeout(res, 500))
    }
    // The file is written before the TLS server swaps its context, so poll until they agree; the
    // served serial must be a renewed one, never the original.
    await waitFor(
      async () => {
        const renewed = (await certOf(lab.nodes[1]!)).serial.replace(/^0+/, '')
        const served = await servedSerial(lab.nodes[1]!)
        if (served === servedBefore) return 'the TLS API still serves the original certificate'
        return served === renewed ? true : `served ${served}, on disk ${renewed}`
      },
      { timeoutMs: 30_000 },
    )
    for (const n of lab.nodes)
      assert.ok(n.pid && (await isLabProcess(n.pid, lab.dir)), `${n.name} was never restarted`)
    const v = await view(lab.nodes[2]!)
    assert.equal(v.members.filter((mm) => mm.state === 'alive').length, 3)
  })
})
