// Many signers (issue 16): every etcd voter holds the CA key and signs. Real agents, a
// real three-voter etcd: with the founder unplugged, a new node is signed by a voter
// that is not the founder; an admin's approval given to one voter reaches the other
// (CA-signed, gossiped); two voters revoking two nodes at the same moment leave every
// node with one revocation list naming both.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { ClusterView } from '../../agent/api/cluster-schema.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { verifyRevocations } from '../../agent/pki/revocations.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { statePaths } from '../../agent/state/paths.js'
import { readAdminConfig } from '../../agent/trust/admin-config.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labAdd, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, nodeIdOf } from '../support/controlplane.js'
import { eventually, stateOf } from '../support/lab.js'
import { counter } from '../support/rogue-run.js'
import { startVoterLab } from '../support/voter-lab.js'

const run = promisify(execFile)
const bin = join(packageRoot(), 'bin', 'homecloud.js')
/** No voter is replaced during the test: the founder stays unplugged and a voter. */
const config = { ...CP_CONFIG, controlPlane: { ...CP_CONFIG.controlPlane, failoverGraceMs: 3_600_000 } }

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** An admin client config that talks to `node` only (the lab's lists the founder first). */
async function adminFor(labDir: string, node: LabNode): Promise<string> {
  const admin = await readAdminConfig(join(labDir, 'admin.json'))
  const path = join(labDir, `admin-${node.name}.json`)
  await writeFile(path, JSON.stringify({ ...admin, urls: [`https://${node.address}:7443`] }), { mode: 0o600 })
  return path
}

const alive = (name: string) => (v: ClusterView) => stateOf(v, name) === 'alive'

describe('many signers: every etcd voter signs', { timeout: 600_000 }, () => {
  it('with the founder unplugged, voters sign joins, take approvals and revocations, and agree', async (t) => {
    const { lab, nodes, voters } = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,x86,x86',
      agentConfig: config,
      votersTimeoutMs: 120_000,
    })
    const founder = nodes[0]!
    assert.ok(voters.includes(founder), 'the founder is a voter')
    const [b, c] = voters.filter((v) => v !== founder) as [LabNode, LabNode]
    for (const v of voters) await readFile(pkiPaths(v.stateDir).caKey) // every voter holds the CA key
    const workers = nodes.filter((n) => !voters.includes(n))

    await labUnplug(lab.dir, founder.name)
    const survivors = nodes.filter((n) => n !== founder)
    const joinsBefore =
      (await counter(b, 'homecloud_joins_total')) + (await counter(c, 'homecloud_joins_total'))

    // 1. A join while the founder is gone: signed by a voter that is not the founder.
    const newcomer = await labAdd(lab.dir, 'x86', { wait: false, agentConfig: config })
    await eventually(survivors, alive(newcomer.name), 'the newcomer is a member', 90_000)
    const joinsAfter =
      (await counter(b, 'homecloud_joins_total')) + (await counter(c, 'homecloud_joins_total'))
    assert.ok(joinsAfter > joinsBefore, 'a surviving voter signed the join')
    const ca = pkiPaths(b.stateDir).caCert
    const caPem = await readFile(ca, 'utf8')
    // The members admit the newcomer's record as soon as the signer holds its certificate,
    // which can be a moment before the newcomer has the answer and has saved it.
    await waitFor(
      () =>
        readFile(pkiPaths(newcomer.stateDir).nodeCert).then(
          () => true as const,
          () => 'the newcomer has not saved its certificate yet',
        ),
      { timeoutMs: 30_000 },
    )
    const verified = await run('openssl', ['verify', '-CAfile', ca, pkiPaths(newcomer.stateDir).nodeCert])
    assert.match(verified.stdout, /: OK/)

    // 2. Approval through one voter, known to the other (CA-signed and gossiped).
    const adminB = await adminFor(lab.dir, b)
    const adminC = await adminFor(lab.dir, c)
    assert.equal((await cli('settings', '--join-policy', 'approve', '--admin', adminB)).code, 0)
    await waitFor(
      async () => {
        const text = await readFile(statePaths(c.stateDir).clusterFile, 'utf8')
        return text.includes('"approve"') ? true : 'the other voter has not got the new policy yet'
      },
      { timeoutMs: 30_000 },
    )
    const waiting = await labAdd(lab.dir, 'x86', { wait: false, agentConfig: config })
    await eventually(
      survivors,
      (v) => v.members.some((m) => m.name === waiting.name && m.state === 'pending'),
      'pending everywhere',
      60_000,
    )
    const approved = await cli('approve', waiting.name, '--admin', adminC)
    assert.equal(approved.code, 0, approved.stderr)
    await eventually(survivors, alive(waiting.name), 'the approved node is a member', 60_000)

    // 3. Two voters revoke two nodes at the same moment: every node ends with one list naming both.
    const [w1, w2] = workers as [LabNode, LabNode]
    const ids = [await nodeIdOf(w1), await nodeIdOf(w2)]
    const [r1, r2] = await Promise.all([
      cli('revoke', w1.name, '--admin', adminB, '--reason', 'race 1'),
      cli('revoke', w2.name, '--admin', adminC, '--reason', 'race 2'),
    ])
    assert.equal(r1.code, 0, r1.stderr)
    assert.equal(r2.code, 0, r2.stderr)
    const holders = survivors.filter((n) => n !== w1 && n !== w2).concat(newcomer, waiting)
    let lists: string[] = []
    await waitFor(
      async () => {
        lists = await Promise.all(
          holders.map((n) => readFile(pkiPaths(n.stateDir).revocations, 'utf8').catch(() => '')),
        )
        const parsed = lists.map((l) => (l ? verifyRevocations(JSON.parse(l), caPem) : null))
        if (parsed.some((p) => !p?.ok)) return 'a node has no valid revocation list yet'
        const names = parsed.map((p) => (p?.ok ? p.list.entries.map((e) => e.nodeId).sort() : []))
        if (!names.every((n) => ids.every((id) => n.includes(id)))) return `lists: ${JSON.stringify(names)}`
        return new Set(lists).size === 1 ? true : 'the nodes hold different lists'
      },
      { timeoutMs: 60_000 },
    )
    await eventually(
      holders,
      (v) => stateOf(v, w1.name) === undefined && stateOf(v, w2.name) === undefined,
      'both revoked nodes gone from every view',
      30_000,
    )
    t.diagnostic(`one revocation list everywhere: version ${JSON.parse(lists[0]!).version}, naming both`)
  })
})
