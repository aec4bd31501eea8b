import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { podCidrFor } from '../../agent/kube/node-runner.js'
import { kubePaths } from '../../agent/kube/paths.js'
import { mountsUnder } from '../../lab/kubelet-node.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labAdd, labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { onCleanup, startLab } from '../support/lab.js'
import { applyWhenAccepted, type Kubectl, labKubectl } from '../support/lab-kubectl.js'
import { busyboxDeployment, packBusybox } from '../support/oci.js'

// The production node: a real kubelet and containerd (Debian's, with runc and the CNI
// reference plugins), supervised by the agent, with certificates from our CA, in a lab of
// namespaces beside kwok boards. Real containers run: a busybox image this test packs
// itself (nothing is pulled; the machine has no registry) and the pause image the setup
// built from the Kubernetes source. Unplugging takes the node's containers with it.

const root = process.getuid?.() === 0
const MARK = 'hello-from-a-real-kubelet'

interface KubeNodeJson {
  metadata: { name: string; labels: Record<string, string> }
  spec: { podCIDR?: string }
  status: {
    conditions?: { type: string; status: string }[]
    nodeInfo?: { containerRuntimeVersion: string; kubeletVersion: string }
  }
}

const readyOf = (n: KubeNodeJson) => n.status.conditions?.find((c) => c.type === 'Ready')?.status

describe('a real kubelet + containerd node', {
  skip: !root && 'needs root (namespaces, containers)',
  timeout: 900_000,
}, () => {
  let lab: LabFile
  let node: LabNode
  let kubectl: Kubectl

  const nodeJson = async (): Promise<KubeNodeJson | string> => {
    const r = await kubectl(['get', 'node', node.name, '-o', 'json'])
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as KubeNodeJson) : r.stderr.trim()
  }

  it('joins as a Ready Node and runs real containers', async (t) => {
    const images = await mkdtemp(join(tmpdir(), 'hc-test-images-'))
    onCleanup(() => rm(images, { recursive: true, force: true }))
    await packBusybox(images)
    lab = await startLab({
      boards: 'pi5,pi5,pi4',
      netns: true,
      kube: true,
      agentConfig: CP_CONFIG,
      timeoutMs: 180_000,
    })
    node = await labAdd(lab.dir, 'x86', {
      kubelet: true,
      agentConfig: { ...CP_CONFIG, kube: { runtime: { imageDirs: [images] } } },
      timeoutMs: 120_000,
    })
    kubectl = (await labKubectl(lab.dir, lab.nodes[0]!.name)).kubectl

    await t.test(
      'the Node is Ready, run by kubelet v1.37.1 on containerd, with its labels and pod range',
      nodeReady,
    )
    await t.test('a pod runs in a real container: its log and exec reach the kubelet over our TLS', podRuns)
    await t.test('the kubelet refuses a caller without a certificate from our CA', kubeletRefusesStrangers)
    await t.test('unplugged: its containers die with it and the Node goes NotReady', unplug)
    await t.test(
      'plugged back: the Node is Ready again and the Deployment runs its pod there again',
      plugBack,
    )
  })

  async function nodeReady() {
    let n: KubeNodeJson | undefined
    await waitFor(
      async () => {
        const r = await nodeJson()
        if (typeof r === 'string') return r
        n = r
        return readyOf(r) === 'True' ? true : `Ready=${readyOf(r) ?? 'none'}`
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    )
    assert.ok(n)
    assert.match(n.status.nodeInfo!.containerRuntimeVersion, /^containerd:\/\//)
    assert.equal(n.status.nodeInfo!.kubeletVersion, 'v1.37.1')
    assert.equal(n.metadata.labels['kubernetes.io/arch'], 'amd64')
    assert.equal(n.metadata.labels['homecloud.dev/board'], 'x86')
    assert.equal(n.metadata.labels.type, undefined, 'not a kwok node')
    assert.equal(n.spec.podCIDR, podCidrFor(node.address))
  }

  async function podRuns() {
    const manifest = busyboxDeployment('hello', node.name, `echo ${MARK}; exec sleep 100000`)
    await applyWhenAccepted(kubectl, lab.dir, 'hello', manifest)
    const pod = await waitForPodRunning()
    const ip = (await kubectl(['get', 'pod', pod, '-o', 'jsonpath={.status.podIP}'])).stdout
    const [net] = podCidrFor(node.address).split('.0/')
    assert.ok(ip.startsWith(`${net}.`), `pod IP ${ip} is in the node's range ${podCidrFor(node.address)}`)
    const logs = await kubectl(['logs', pod])
    assert.equal(logs.exitCode, 0, logs.stderr)
    assert.match(logs.stdout, new RegExp(MARK))
    const exec = await kubectl(['exec', pod, '--', '/bin/sh', '-c', 'echo exec-ok; cat /proc/1/cmdline'])
    assert.equal(exec.exitCode, 0, exec.stderr)
    assert.match(exec.stdout, /exec-ok/)
    assert.match(exec.stdout, /sleep/)
  }

  /** The Deployment's pod on the node with its Ready condition True; its name. */
  async function waitForPodRunning(): Promise<string> {
    let name = ''
    await waitFor(
      async () => {
        const r = await kubectl([
          'get',
          'pods',
          '-l',
          'app=hello',
          '-o',
          'jsonpath={range .items[*]}{.metadata.name}/{.spec.nodeName}/{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ])
        const line = r.stdout.split('\n').find((l) => l.endsWith(`/${node.name}/True`))
        name = line?.split('/')[0] ?? ''
        return name ? true : `pods: ${r.stdout.trim().replace(/\n/g, ', ') || r.stderr.trim() || 'none'}`
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    )
    return name
  }

  async function kubeletRefusesStrangers() {
    const ca = await readFile(kubePaths(node.stateDir).caCert, 'utf8')
    // The serving certificate verifies against our CA for the node's address (TLS succeeds),
    // and without a client certificate the kubelet answers 401: anonymous access is off.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: node.address, port: 10250, path: '/pods', ca, timeout: 10_000 }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 401)
    // A certificate from another CA does not even get through the handshake's verification.
    const other = await new Promise<string>((resolve) => {
      const req = request({ host: node.address, port: 10250, path: '/pods', timeout: 10_000 }, () =>
        resolve('answered'),
      )
      req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message))
      req.end()
    })
    assert.notEqual(other, 'answered', 'a client without our CA does not trust the kubelet')
  }

  async function unplug() {
    const cgroupRoot = node.kubelet!.cgroupRoot
    await labUnplug(lab.dir, node.name)
    // Nothing of the node runs any more: no process in its pod cgroups, no shim, no mounts.
    const left = await cgroupProcesses(cgroupRoot)
    assert.deepEqual(left, [], 'no process left in the pod cgroups')
    const mounts = mountsUnder(await readFile('/proc/self/mountinfo', 'utf8'), node.stateDir)
    assert.deepEqual(mounts, [], 'no mount left under the node')
    await waitFor(
      async () => {
        const r = await nodeJson()
        if (typeof r === 'string') return r
        return readyOf(r) !== 'True' ? true : 'still Ready'
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    )
  }

  async function plugBack() {
    await labPlug(lab.dir, node.name)
    await waitFor(
      async () => {
        const r = await nodeJson()
        if (typeof r === 'string') return r
        return readyOf(r) === 'True' ? true : `Ready=${readyOf(r) ?? 'none'}`
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    )
    // The same pod restarted, or (once dead-node handling deleted it) its replacement.
    const pod = await waitForPodRunning()
    const logs = await kubectl(['logs', pod])
    assert.match(logs.stdout, new RegExp(MARK))
  }
})

async function cgroupProcesses(cgroupRoot: string): Promise<number[]> {
  const out: number[] = []
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const walk = async (dir: string): Promise<void> => {
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => null)
      if (procs === null) return
      for (const l of procs.split('\n')) if (l) out.push(Number(l))
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => []))
        if (e.isDirectory()) await walk(join(dir, e.name))
    }
    await walk(join('/sys/fs/cgroup', h, cgroupRoot))
  }
  return out
}
