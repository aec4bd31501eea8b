import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import { kubePaths } from '../../agent/kube/paths.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labKubeconfig, labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'

// A lab of 4 ARM boards and 2 x86 machines, each a real agent process that runs Kubernetes
// by itself: the control plane on the etcd voters, a kwok per node, a load balancer per
// node. The test talks to the cluster only as a user would: the built kubectl with the
// lab's admin kubeconfig, through one worker's local load balancer.

const BOARDS = 'pi5,rock5b,pi4-ssd,pi5,x86,x86'
const ARM = 4

interface KubeNode {
  metadata: { name: string; labels: Record<string, string> }
  status: { conditions?: { type: string; status: string }[] }
}

const ready = (n: KubeNode) => n.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')

describe('Kubernetes in a lab of real agents', { timeout: 600_000 }, () => {
  let lab: LabFile
  let kubeconfig: string
  let kubectlBin: string
  let worker: LabNode
  let unplugged: LabNode | undefined

  const kubectl = (args: string[], config = kubeconfig) =>
    execa(kubectlBin, ['--kubeconfig', config, '--request-timeout=5s', ...args], { reject: false })

  const nodes = async (): Promise<KubeNode[] | string> => {
    const r = await kubectl(['get', 'nodes', '-o', 'json'])
    if (r.exitCode !== 0) return r.stderr.trim()
    return (JSON.parse(r.stdout) as { items: KubeNode[] }).items
  }

  // One lab for every step: startLab tears it down after the test that started it.
  it('4 ARM + 2 x86 agents run Kubernetes by themselves', async (t) => {
    kubectlBin = (await findKubePrograms(['kubectl'])).kubectl
    lab = await startLab({ boards: BOARDS, kube: true, agentConfig: CP_CONFIG, timeoutMs: 120_000 })
    worker = lab.nodes.find((n) => n.board === 'x86')!
    kubeconfig = join(lab.dir, 'test.kubeconfig')
    // Through a worker's load balancer: it holds no API server of its own.
    await writeFile(kubeconfig, await labKubeconfig(lab.dir, worker.name), { mode: 0o600 })
    await t.test(
      'every node is a Ready Node with its arch, board and storage labels; the voters are control-plane',
      everyNodeReady,
    )
    await t.test('a Deployment of 6 replicas is scheduled and Running', deployment)
    await t.test("a node's kubelet identity cannot act for another node (node authorizer)", nodeAuthorizer)
    await t.test(
      'unplugging a voter: the API stays reachable through the load balancer; three API servers run again on the current voters',
      failover,
    )
    await t.test(
      'the unplugged node gets the out-of-service taint, its pods run elsewhere; plugged back it is Ready and the taint is gone',
      outOfService,
    )
  })

  /** The control plane as a node that reads it from etcd says (a worker only knows the records). */
  async function etcdView(candidates: LabNode[]) {
    for (const n of candidates) {
      const cp = await controlPlaneOf(n)
      if (cp?.source === 'etcd' && cp.quorum) return cp
    }
    return null
  }

  async function everyNodeReady() {
    let items: KubeNode[] = []
    await waitFor(
      async () => {
        const r = await nodes()
        if (typeof r === 'string') return r
        items = r
        const readyCount = r.filter(ready).length
        return readyCount === lab.nodes.length ? true : `${readyCount}/${lab.nodes.length} Ready`
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    )
    for (const n of lab.nodes) {
      const node = items.find((i) => i.metadata.name === n.name)
      assert.ok(node, `${n.name} is a Node`)
      const l = node.metadata.labels
      assert.equal(l['kubernetes.io/arch'], n.board === 'x86' ? 'amd64' : 'arm64', n.name)
      assert.equal(l['homecloud.dev/board'], n.board, n.name)
      assert.ok(l['homecloud.dev/storage'], `${n.name} has a storage label`)
      assert.ok(l['homecloud.dev/node-id'], `${n.name} has its node id`)
    }
    assert.equal(items.filter((i) => i.metadata.labels['kubernetes.io/arch'] === 'arm64').length, ARM)
    // The control-plane label follows the etcd voters (applied by the coordinator).
    await waitFor(
      async () => {
        const cp = await etcdView(lab.nodes)
        const r = await nodes()
        if (!cp || typeof r === 'string') return 'no view yet'
        const labelled = r
          .filter((i) => 'node-role.kubernetes.io/control-plane' in i.metadata.labels)
          .map((i) => i.metadata.name)
          .sort()
        return cp.voters.length === 3 && labelled.join() === cp.voters.join()
          ? true
          : `labelled ${labelled.join()} voters ${cp.voters.join()}`
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    )
  }

  async function deployment() {
    const created = await kubectl([
      'create',
      'deployment',
      'web',
      '--image=registry.invalid/web',
      '--replicas=6',
    ])
    assert.equal(created.exitCode, 0, created.stderr)
    await waitFor(
      async () => {
        const r = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}'])
        const running = r.stdout.split(' ').filter((p) => p === 'Running').length
        return running === 6 ? true : `${running}/6 Running`
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    )
    // The coordinator applied the add-ons by itself: CoreDNS runs (on kwok nodes).
    await waitFor(
      async () => {
        const r = await kubectl([
          '-n',
          'kube-system',
          'get',
          'deployment',
          'coredns',
          '-o',
          'jsonpath={.status.readyReplicas}',
        ])
        return Number(r.stdout) >= 1 ? true : `coredns: ${r.stdout || r.stderr.trim()}`
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    )
  }

  async function nodeAuthorizer() {
    const [a, b] = lab.nodes
    const asA = kubePaths(a!.stateDir).nodeKubeconfig
    // The node kubeconfig points at a's own load balancer; any other works the same.
    // (kubectl forgets the kubeconfig's tls-server-name when --server is given.)
    const server = [
      '--server',
      `https://${worker.address}:6444`,
      '--tls-server-name',
      'kubernetes.default.svc',
    ]
    const own = await kubectl([...server, 'get', 'node', a!.name], asA)
    assert.equal(own.exitCode, 0, own.stderr)
    const other = await kubectl([...server, 'label', 'node', b!.name, 'stolen=yes'], asA)
    assert.notEqual(other.exitCode, 0)
    assert.match(other.stderr, /forbidden/i)
    const secret = await kubectl([...server, 'get', 'secrets', '-A'], asA)
    assert.notEqual(secret.exitCode, 0)
    assert.match(secret.stderr, /forbidden/i)
  }

  async function failover() {
    const prior = await etcdView(lab.nodes)
    assert.ok(prior && prior.voters.length === 3)
    // The coordinator is the worst case: it also runs an API server and its etcd member.
    const victimName = prior.coordinator ?? prior.voters[0]!
    const victim = lab.nodes.find((n) => n.name === victimName)!
    unplugged = victim
    // Requests every 200 ms through the worker's balancer, from before the unplug on. Each
    // answer is kept with the phase it was asked in, so the checks below can say which
    // failed and why (not only how many).
    let stop = false
    type Phase = 'before' | 'failover' | 'after'
    let phase = 'before' as Phase
    let lastOkMs = Date.now()
    let longestGapMs = 0
    const probes: { phase: Phase; ok: boolean; said: string }[] = []
    const prober = (async () => {
      while (!stop) {
        const asked = phase
        const r = await execa(
          kubectlBin,
          ['--kubeconfig', kubeconfig, '--request-timeout=2s', 'get', '--raw', '/readyz'],
          { reject: false },
        )
        const now = Date.now()
        if (r.exitCode === 0) {
          longestGapMs = Math.max(longestGapMs, now - lastOkMs)
          lastOkMs = now
        }
        probes.push({ phase: asked, ok: r.exitCode === 0, said: r.exitCode === 0 ? '' : firstLine(r.stderr) })
        await new Promise((res) => setTimeout(res, 200))
      }
    })()
    await waitFor(async () => probes.length >= 3 || 'fewer than 3 probes answered yet', {
      timeoutMs: 60_000,
      intervalMs: 200,
    })
    phase = 'failover'
    await labUnplug(lab.dir, victim.name)
    const unpluggedAt = Date.now()
    // A listing right after the unplug works through the balancer.
    await waitFor(
      async () => {
        const r = await nodes()
        return typeof r === 'string' ? r : true
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    const firstListMs = Date.now() - unpluggedAt
    // After the failover grace a spare board is promoted; it starts its own API server.
    const alive = lab.nodes.filter((n) => n !== victim)
    let after: Awaited<ReturnType<typeof controlPlaneOf>> = null
    await waitFor(
      async () => {
        after = await etcdView(alive)
        if (!after) return 'no node reads the control plane from etcd'
        if (after.voters.includes(victim.name)) return `${victim.name} is still a voter`
        if (after.voters.length !== 3) return `${after.voters.length} voters`
        // Every current voter serves the API itself (its API server's own /readyz).
        for (const v of after.voters) {
          const node = lab.nodes.find((n) => n.name === v)!
          const r = await kubectl([
            '--server',
            `https://${node.address}:6443`,
            '--tls-server-name',
            'kubernetes.default.svc',
            'get',
            '--raw',
            '/readyz',
          ])
          if (r.exitCode !== 0) return `${v}: API server not ready`
        }
        return true
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
    // Failed over: from now on the balancer must answer again, and keep answering.
    phase = 'after'
    await waitFor(
      async () => {
        const last = probes.slice(-3)
        return (
          (last.length === 3 && last.every((p) => p.phase === 'after' && p.ok)) ||
          `last answers through the balancer: ${last.map((p) => `${p.phase} ${p.ok ? 'ok' : p.said}`).join('; ')}`
        )
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    stop = true
    await prober
    const failed = (ph: Phase) => probes.filter((p) => p.phase === ph && !p.ok)
    const reasons = (ph: Phase) => [...new Set(failed(ph).map((p) => p.said))].join(' | ')
    // A healthy cluster answers every probe: a failure before the unplug is a balancer fault.
    assert.ok(
      probes.some((p) => p.phase === 'before' && p.ok),
      'no probe succeeded before the unplug',
    )
    assert.equal(failed('before').length, 0, `probes failed before the unplug: ${reasons('before')}`)
    // During the failover probes may fail (the victim's backend until the balancer marks it
    // down, etcd electing a leader), but never for a reason that would not heal by itself.
    for (const p of failed('failover'))
      assert.doesNotMatch(p.said, /certificate|x509|Unauthorized|Forbidden/i)
    // The records say which nodes run the Kubernetes control plane: the voters, not the victim.
    const view = await (await fetch(`http://${worker.address}:7080/api/v1/cluster`)).json()
    const running = (view as { members: { name: string; roles: string[]; state: string }[] }).members
      .filter((m) => m.roles.includes('control-plane') && m.state === 'alive')
      .map((m) => m.name)
      .sort()
    assert.deepEqual(running, [...after!.voters].sort())
    const r = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}'])
    assert.equal(r.exitCode, 0, r.stderr)
    console.log(
      `unplugged ${victim.name} (coordinator: ${prior.coordinator}): longest gap between successful /readyz through ${worker.name}'s balancer ${longestGapMs} ms, ${failed('failover').length} of ${probes.length} probes failed during the failover (${reasons('failover') || 'none'}); first full node list ${firstListMs} ms after the unplug; voters now ${after!.voters.join(', ')}; ${alive.length} boards left`,
    )
  }

  async function outOfService() {
    const victim = unplugged
    assert.ok(victim, 'the failover step unplugged a node')
    const taintOf = async () => {
      const r = await kubectl(['get', 'node', victim.name, '-o', 'json'])
      if (r.exitCode !== 0) return `node: ${r.stderr.trim()}`
      const n = JSON.parse(r.stdout) as { spec: { taints?: { key: string }[] } } & KubeNode
      return {
        node: n,
        tainted: (n.spec.taints ?? []).some((t) => t.key === 'node.kubernetes.io/out-of-service'),
      }
    }
    // Dead by the mesh, NotReady by Kubernetes, past the grace: the coordinator taints it.
    await waitFor(
      async () => {
        const t = await taintOf()
        return typeof t === 'string' ? t : t.tainted ? true : 'not tainted yet'
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
    await waitFor(
      async () => {
        const r = await kubectl([
          'get',
          'pods',
          '-l',
          'app=web',
          '-o',
          'jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{"\\n"}{end}',
        ])
        const rows = r.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
        const running = rows.filter(([node, phase]) => phase === 'Running' && node !== victim.name)
        return running.length === 6 && rows.length === 6 ? true : `${running.length}/6 Running elsewhere`
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
    // Back: the agent rejoins, its kwok makes the Node Ready, the coordinator lifts the taint.
    await labPlug(lab.dir, victim.name)
    await waitFor(
      async () => {
        const t = await taintOf()
        if (typeof t === 'string') return t
        if (!ready(t.node)) return 'not Ready yet'
        return t.tainted ? 'still tainted' : true
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
  }
})

/** kubectl's first line of complaint, short enough to list in a message. */
function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 200)
}
