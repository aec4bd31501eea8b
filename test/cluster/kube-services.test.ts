import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labAdd, labLoadBalancerRange, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { labBridgeNames } from '../../lab/netns/names.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, type Kubectl, labKubectl } from '../support/lab-kubectl.js'
import {
  CLEAR_TEXT,
  capture,
  clientPod,
  fetchInPod,
  hostGet,
  MARK,
  placeAddonsOnRealNodes,
  webDeployment,
  webService,
  wireguardPackets,
} from '../support/services-fixture.js'

// Real services on real kubelet nodes, with no registry reachable: three kwok voters run
// the control plane, two x86 nodes run the real kubelet + containerd with the add-on
// images the agent imported (CoreDNS, MetalLB, local-path, busybox: built from source,
// never pulled), kube-proxy and the encrypted pod network (wireguard-go). One lab for all.

const root = process.getuid?.() === 0

interface PodRow {
  name: string
  node: string
  ready: boolean
  ip: string
}

describe('services on real kubelet nodes: DNS, pod network, LAN addresses', {
  skip: !root && 'needs root (namespaces, containers, tcpdump)',
  timeout: 1_500_000,
}, () => {
  let lab: LabFile
  let a: LabNode
  let b: LabNode
  let kubectl: Kubectl

  const pods = async (selector: string, ns = 'default'): Promise<PodRow[]> => {
    const r = await kubectl(['-n', ns, 'get', 'pods', '-l', selector, '-o', 'json'])
    if (r.exitCode !== 0) return []
    const items = JSON.parse(r.stdout).items as {
      metadata: { name: string }
      spec: { nodeName?: string }
      status: { podIP?: string; conditions?: { type: string; status: string }[] }
    }[]
    return items.map((p) => ({
      name: p.metadata.name,
      node: p.spec.nodeName ?? '',
      ip: p.status.podIP ?? '',
      ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }))
  }
  const readyOn = async (selector: string, nodes: string[], ns = 'default', timeoutMs = 300_000) => {
    let rows: PodRow[] = []
    await waitFor(
      async () => {
        rows = await pods(selector, ns)
        const missing = nodes.filter((n) => !rows.some((p) => p.node === n && p.ready))
        return missing.length === 0
          ? true
          : `${selector} not ready on ${missing.join(', ')}: ${rows.map((p) => `${p.name}@${p.node}:${p.ready}`).join(' ')}`
      },
      { timeoutMs, intervalMs: 1000 },
    )
    return rows
  }

  it('runs real services with nothing pulled', async (t) => {
    lab = await startLab({
      boards: 'pi5,pi5,pi4',
      netns: true,
      kube: true,
      agentConfig: CP_CONFIG,
      timeoutMs: 180_000,
    })
    a = await labAdd(lab.dir, 'x86', { kubelet: true, agentConfig: CP_CONFIG, timeoutMs: 120_000 })
    b = await labAdd(lab.dir, 'x86', { kubelet: true, agentConfig: CP_CONFIG, timeoutMs: 120_000 })
    kubectl = (await labKubectl(lab.dir, lab.nodes[0]!.name)).kubectl
    await applyWhenAccepted(kubectl, lab.dir, 'web', webDeployment(2))
    await applyWhenAccepted(kubectl, lab.dir, 'web-svc', webService('web', 'ClusterIP'))
    await applyWhenAccepted(kubectl, lab.dir, 'client-a', clientPod('client-a', a.name))

    await t.test('CoreDNS runs on a real node, and a pod resolves a Service name', dns)
    await t.test('a pod on node A fetches from a pod on node B, by pod IP and by Service name', podToPod)
    await t.test('a capture on the lab bridge shows WireGuard, and no pod payload in clear', noClearText)
    await t.test(
      'a LoadBalancer Service answers on the LAN from one node; the status page says which',
      lanAddress,
    )
    await t.test('the answering node is unplugged: another node answers the same address', failover)
    await t.test('nothing was pulled from any registry', nothingPulled)
  })

  /** What the two kubelet nodes' agents last said about the pod network: the reason, when pods cannot reach each other. */
  async function podNetLines(): Promise<string> {
    const out: string[] = []
    for (const n of [a, b]) {
      const log = await readFile(join(lab.dir, 'nodes', n.name, 'agent.log'), 'utf8').catch(() => '')
      const lines = log.split('\n').filter((l) => /pod network|wireguard|PODNET/i.test(l))
      out.push(...lines.slice(-3).map((l) => `${n.name}: ${l.slice(0, 300)}`))
    }
    return out.length > 0 ? `\n${out.join('\n')}` : ''
  }

  /**
   * client-a Running. A pod bound to a kubelet that has just (re)started can be refused at
   * admission with OutOfpods "capacity: 0" (the kubelet has not read its own Node yet); a
   * bare Pod refused so stays Failed, so it is made again.
   */
  async function clientRunning(): Promise<void> {
    await waitFor(
      async () => {
        const r = await kubectl(['get', 'pod', 'client-a', '-o', 'jsonpath={.status.phase} {.status.reason}'])
        const [phase, reason] = r.stdout.split(' ')
        if (phase === 'Running') return true
        if (phase === 'Failed') {
          await kubectl(['delete', 'pod', 'client-a', '--wait=true', '--timeout=60s'])
          await applyWhenAccepted(kubectl, lab.dir, 'client-a', clientPod('client-a', a.name))
        }
        return `client-a: ${phase || 'missing'}${reason ? ` (${reason})` : ''}`
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
  }

  async function dns() {
    await placeAddonsOnRealNodes(kubectl, [a.name, b.name])
    await clientRunning()
    const rows = await readyOn('k8s-app=kube-dns', [], 'kube-system')
    await waitFor(
      async () => {
        const real = (await pods('k8s-app=kube-dns', 'kube-system')).filter(
          (p) => p.ready && (p.node === a.name || p.node === b.name),
        )
        return real.length > 0 ? true : `CoreDNS ready on no real node: ${JSON.stringify(rows)}`
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    )
    await readyOn('app=web', [a.name, b.name])
    await waitFor(
      async () => {
        const r = await kubectl([
          'exec',
          'client-a',
          '--',
          '/bin/busybox',
          'nslookup',
          'web.default.svc.cluster.local',
        ])
        const svcIp = (await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout
        return r.exitCode === 0 && r.stdout.includes(svcIp)
          ? true
          : `nslookup: ${r.stdout} ${r.stderr}`.trim() + (await podNetLines())
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    )
  }

  /** B's web pod, ready and with its address (a list may also hold one on its way out). */
  async function webOnB(): Promise<PodRow> {
    const rows = await readyOn('app=web', [b.name], 'default', 120_000)
    const onB = rows.find((p) => p.node === b.name && p.ready && p.ip !== '')
    assert.ok(onB, `no ready web pod with an address on ${b.name}: ${JSON.stringify(rows)}`)
    return onB
  }

  async function podToPod() {
    await waitFor(
      async () => {
        const onB = await webOnB()
        const r = await fetchInPod(kubectl, 'client-a', `http://${onB.ip}:8080/`)
        return r.exitCode === 0 && r.stdout.trim() === `${MARK} ${b.name}`
          ? true
          : `by pod IP ${onB.ip}: ${r.stdout} ${r.stderr}`.trim() + (await podNetLines())
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    )
    // By name through kube-proxy: both pods answer in turn; wait until B's has.
    await waitFor(
      async () => {
        const s = await fetchInPod(kubectl, 'client-a', 'http://web.default.svc.cluster.local/')
        return s.stdout.includes(`${MARK} ${b.name}`) ? true : `by name: ${s.stdout} ${s.stderr}`.trim()
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
  }

  async function noClearText() {
    const onB = await webOnB()
    const bridge = labBridgeNames(lab.index).bridge
    let body = ''
    const pcap = await capture(bridge, join(lab.dir, 'bridge.pcap'), async () => {
      const r = await fetchInPod(kubectl, 'client-a', `http://${onB.ip}:8080/big.txt`, 20)
      assert.equal(r.exitCode, 0, r.stderr)
      body = r.stdout
    })
    assert.ok(body.includes(`${CLEAR_TEXT}-2999`), 'the whole payload arrived')
    assert.ok(wireguardPackets(pcap) > 20, `WireGuard packets on the bridge: ${wireguardPackets(pcap)}`)
    assert.equal(pcap.includes(Buffer.from(CLEAR_TEXT)), false, 'no pod payload in clear on the lab bridge')
    assert.equal(pcap.includes(Buffer.from(MARK)), false)
  }

  let vip = ''
  let answering = ''
  async function lanAddress() {
    await applyWhenAccepted(kubectl, lab.dir, 'web-lb', webService('web-lb', 'LoadBalancer'))
    await waitFor(
      async () => {
        vip = (
          await kubectl(['get', 'service', 'web-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])
        ).stdout
        return vip ? true : 'no LAN address yet'
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    )
    const [net] = labLoadBalancerRange(lab.index).split('/')
    assert.ok(vip.startsWith(net!.split('.').slice(0, 3).join('.')), `${vip} is on the lab bridge's subnet`)
    let body = ''
    await waitFor(
      async () => {
        const r = await hostGet(vip)
        body = r.body
        return r.ok ? true : `GET http://${vip}/: ${r.body}`
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    )
    answering = body.trim().split(' ').pop()!
    assert.ok([a.name, b.name].includes(answering), `answered by ${body}`)
    // Every node's status view lists the address and the node answering for it. Both may
    // move while MetalLB's speakers settle (the first speaker up announces, then the one the
    // election picks takes over, and the host's ARP entry follows): asked again each time.
    await waitFor(
      async () => {
        const r = await hostGet(vip)
        if (r.ok) answering = r.body.trim().split(' ').pop()!
        const v = await fetchClusterView(nodeUrl(lab.nodes[1]!))
        const row = v?.services?.find((s) => s.name === 'web-lb')
        return row?.addresses.includes(vip) && row.node === answering
          ? true
          : `answered by ${answering}; status view: ${JSON.stringify(row)}`
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    )
  }

  async function failover(t: { diagnostic(s: string): void }) {
    const survivor = answering === a.name ? b.name : a.name
    const t0 = performance.now()
    await labUnplug(lab.dir, answering)
    let body = ''
    await waitFor(
      async () => {
        const r = await hostGet(vip, '/', 500)
        body = r.body
        return r.ok ? true : `GET http://${vip}/: ${r.body}`
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    )
    const seconds = (performance.now() - t0) / 1000
    t.diagnostic(`${vip} answered again ${seconds.toFixed(1)} s after ${answering} was unplugged`)
    assert.equal(body.trim(), `${MARK} ${survivor}`)
  }

  async function nothingPulled() {
    const r = await kubectl(['get', 'events', '-A', '--field-selector', 'reason=Pulling', '-o', 'name'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), '', 'no image pull was attempted')
    const failed = await kubectl([
      'get',
      'events',
      '-A',
      '--field-selector',
      'reason=ErrImageNeverPull',
      '-o',
      'name',
    ])
    assert.equal(failed.stdout.trim(), '', 'every image was on its node')
  }
})
