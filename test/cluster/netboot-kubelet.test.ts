import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { packageRoot } from '../../agent/core/package-root.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { addTestVm, consoleText } from '../support/netboot.js'

// The whole moment: a machine with no disk is plugged into the LAN, netboots from the
// nodes (real dnsmasq, iPXE, qemu TCG), and becomes a real Kubernetes node: the image
// built with --kube carries the kubelet, containerd, runc, the CNI plugins and the pause
// image, so a pod runs on it with nothing pulled from anywhere; it carries the add-on images
// too, imported into containerd before the kubelet starts, and MetalLB runs on it. Needs root.
const root = process.getuid?.() === 0

describe('netboot into Kubernetes', { skip: !root && 'needs root for namespaces, taps and dnsmasq' }, () => {
  it('a netbooted VM becomes a Ready kubelet Node and runs a pod', { timeout: 2_400_000 }, async (t) => {
    const lab = await startLab({
      boards: 'pi5,pi5,pi4',
      netns: true,
      netboot: true,
      kube: true,
      agentConfig: CP_CONFIG,
      timeoutMs: 900_000,
    })
    const { kubectl } = await labKubectl(lab.dir, lab.nodes[0]!.name)

    const vm = await addTestVm(lab)
    assert.match(await consoleText(vm), /Kubernetes node image: kubelet \+ containerd/)
    await waitFor(
      async () => {
        const r = await kubectl([
          'get',
          'node',
          vm.name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.containerRuntimeVersion}',
        ])
        return r.stdout.startsWith('True containerd://') ? true : `node: ${r.stdout || r.stderr.trim()}`
      },
      { timeoutMs: 900_000, intervalMs: 2000 },
    )
    // Every image the add-on manifests name came with the image and is in the VM's containerd
    // (the kubelet lists a node's images in its status; its image list refreshes every 30 s).
    const wanted = await addonImages()
    assert.ok(wanted.length >= 5, `add-on images named by manifests/addons: ${wanted.join(', ')}`)
    await waitFor(
      async () => {
        const r = await kubectl(['get', 'node', vm.name, '-o', 'jsonpath={.status.images[*].names[*]}'])
        const onNode = new Set(r.stdout.split(' '))
        const missing = wanted.filter((i) => !onNode.has(i))
        return missing.length === 0
          ? true
          : `missing on ${vm.name}: ${missing.join(', ')}; it has: ${r.stdout}`
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    )
    t.diagnostic(`${vm.name} has every add-on image: ${wanted.join(', ')}`)
    // The pause image itself is the workload: it is in every node image, never pulled.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'on-netbooted', namespace: 'default' },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': vm.name },
        containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10.2', imagePullPolicy: 'Never' }],
      },
    }
    await applyWhenAccepted(kubectl, lab.dir, 'pod', pod)
    await waitFor(
      async () => {
        const r = await kubectl([
          'get',
          'pod',
          'on-netbooted',
          '-o',
          'jsonpath={.status.phase}/{.status.containerStatuses[0].ready}',
        ])
        return r.stdout === 'Running/true' ? true : `pod: ${r.stdout || r.stderr.trim()}`
      },
      { timeoutMs: 600_000, intervalMs: 2000 },
    )
    await metallbRunsOn(kubectl, vm.name)
  })
})

type Kubectl = Awaited<ReturnType<typeof labKubectl>>['kubectl']

/**
 * Add-ons running in the VM: MetalLB's controller and its speaker (host network: it reaches
 * the API server through the Service address, so kube-proxy's rules and the agent's Service
 * route work there). The add-ons were applied while only kwok Nodes existed, so the
 * controller sits on a kwok stand-in that runs nothing (its preference for real Nodes counts
 * only when it is scheduled) and the speakers wait for its memberlist secret: move it once.
 */
async function metallbRunsOn(kubectl: Kubectl, node: string): Promise<void> {
  const ns = ['-n', 'metallb-system']
  const where = await kubectl([
    ...ns,
    'get',
    'pods',
    '-l',
    'component=controller',
    '-o',
    'jsonpath={.items[*].spec.nodeName}',
  ])
  if (where.stdout !== node) {
    const r = await kubectl([...ns, 'delete', 'pods', '-l', 'component=controller', '--wait=false'])
    assert.equal(r.exitCode, 0, r.stderr)
  }
  for (const component of ['controller', 'speaker']) {
    await waitFor(
      async () => {
        const r = await kubectl([
          ...ns,
          'get',
          'pods',
          '-l',
          `component=${component}`,
          '--field-selector',
          `spec.nodeName=${node}`,
          '-o',
          'jsonpath={.items[*].status.containerStatuses[0].ready}',
        ])
        return r.stdout === 'true'
          ? true
          : `MetalLB ${component} on ${node}: ready=${r.stdout || r.stderr.trim()}`
      },
      { timeoutMs: 300_000, intervalMs: 2000 },
    )
  }
}

/** The images manifests/addons names (all built here: localhost/homecloud/...). */
async function addonImages(): Promise<string[]> {
  const dir = join(packageRoot(), 'manifests', 'addons')
  const out = new Set<string>()
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.yaml'))) {
    for (const m of (await readFile(join(dir, f), 'utf8')).matchAll(/image:\s*(localhost\/homecloud\/\S+)/g))
      out.add(m[1]!)
  }
  return [...out].sort()
}
