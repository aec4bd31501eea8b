import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { addTestVm, consoleText } from '../support/netboot.js'

// The whole moment: a machine with no disk is plugged into the LAN, netboots from the
// nodes (real dnsmasq, iPXE, qemu TCG), and becomes a real Kubernetes node: the image
// built with --kube carries the kubelet, containerd, runc, the CNI plugins and the pause
// image, so a pod runs on it with nothing pulled from anywhere. Needs root.
const root = process.getuid?.() === 0

describe('netboot into Kubernetes', { skip: !root && 'needs root for namespaces, taps and dnsmasq' }, () => {
  it('a netbooted VM becomes a Ready kubelet Node and runs a pod', { timeout: 2_400_000 }, async () => {
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
  })
})
