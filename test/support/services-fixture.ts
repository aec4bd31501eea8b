import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { waitFor } from '../../lab/wait.js'
import type { Kubectl } from './lab-kubectl.js'

// Workloads for the pod-network and LoadBalancer test and benchmark, on the busybox image
// images/addons/build.sh builds (carried by every kubelet node: nothing is pulled).

export const BUSYBOX = 'localhost/homecloud/busybox:1.35.0'
export const MARK = 'hello-from-a-pod-on-another-node'
/** A line repeated in big.txt: the capture check looks for it on the wire. */
export const CLEAR_TEXT = 'homecloud-pod-payload-in-clear'

const onlyRealNodes = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'type', operator: 'NotIn', values: ['kwok'] }] }],
    },
  },
}

const container = (script: string) => ({
  name: 'c',
  image: BUSYBOX,
  imagePullPolicy: 'Never',
  command: ['/bin/sh', '-c', script],
})

/** httpd on 8080 serving MARK (index.html, with the pod's node) and big.txt (~100 KiB of CLEAR_TEXT). */
const webScript = [
  'mkdir -p /www',
  `echo "${MARK} $NODE" > /www/index.html`,
  `i=0; while [ $i -lt 3000 ]; do echo "${CLEAR_TEXT}-$i"; i=$((i+1)); done > /www/big.txt`,
  'exec /bin/busybox httpd -f -p 8080 -h /www',
].join('; ')

/** The web server pinned to `node` (label app=`app`), with a `bulk.bin` of `bulkMiB` for throughput. */
export function webPod(name: string, node: string, app: string, bulkMiB: number): Record<string, unknown> {
  const script = `mkdir -p /www; /bin/busybox dd if=/dev/zero of=/www/bulk.bin bs=1048576 count=${bulkMiB} 2>/dev/null; ${webScript}`
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      containers: [
        {
          ...container(script),
          env: [{ name: 'NODE', value: node }],
          readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 2 },
        },
      ],
    },
  }
}

/** One web pod on each real kubelet node (anti-affinity), labelled app=web. */
export function webDeployment(replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          affinity: {
            ...onlyRealNodes,
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } },
              ],
            },
          },
          containers: [
            {
              ...container(webScript),
              env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 2 },
            },
          ],
        },
      },
    },
  }
}

export function webService(name: string, type: 'ClusterIP' | 'LoadBalancer'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: {
      type,
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      // Local: the answering node sends to its own pod, so after a failover the new node
      // answers at once rather than sometimes forwarding to the dead node's pod.
      ...(type === 'LoadBalancer' ? { externalTrafficPolicy: 'Local' } : {}),
    },
  }
}

/** A pod that only waits, pinned to `node`, for `kubectl exec`. */
export function clientPod(name: string, node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, containers: [container('exec sleep 100000')] },
  }
}

/**
 * An HTTP GET inside a pod, with busybox nc (Debian's static busybox wget crashes without the
 * NSS files a full image has); the body in `stdout`. `url` is http://HOST[:PORT]/PATH.
 */
export async function fetchInPod(kubectl: Kubectl, pod: string, url: string, timeoutSec = 5) {
  const m = /^http:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url)
  if (!m) throw new Error(`not an http URL: ${url}`)
  const [, host, port = '80', path = '/'] = m
  const script = `printf 'GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | /bin/busybox nc -w ${timeoutSec} ${host} ${port}`
  const r = await kubectl(['exec', pod, '--', '/bin/sh', '-c', script])
  const sep = r.stdout.indexOf('\r\n\r\n')
  const ok = r.exitCode === 0 && /^HTTP\/1\.\d 200/.test(r.stdout)
  return {
    exitCode: ok ? 0 : (r.exitCode ?? 1) || 1,
    stdout: sep >= 0 ? r.stdout.slice(sep + 4) : '',
    stderr: ok ? r.stderr : `${r.stderr} ${r.stdout.slice(0, 200)}`.trim(),
  }
}

/** One HTTP GET from this process (the host side of the lab bridge); the body, or an error text. */
export function hostGet(host: string, path = '/', timeoutMs = 1000): Promise<{ ok: boolean; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port: 80, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ ok: res.statusCode === 200, body }))
      res.on('error', (e) => resolve({ ok: false, body: e.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ ok: false, body: e.message }))
    req.end()
  })
}

/** tcpdump on `iface` into `file` while `during` runs; the capture's bytes. */
export async function capture(iface: string, file: string, during: () => Promise<void>): Promise<Buffer> {
  const p = spawn('tcpdump', ['-i', iface, '-U', '-n', '-s', '0', '-w', file, 'ip'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  p.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  // tcpdump says "listening on …" once the capture runs.
  for (let i = 0; i < 100 && !err.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 100))
  try {
    await during()
  } finally {
    await new Promise((r) => setTimeout(r, 500))
    const done = new Promise((r) => p.once('exit', r))
    p.kill('SIGINT')
    await done
  }
  if (!err.includes('listening on')) throw new Error(`tcpdump did not start: ${err}`)
  return readFile(file)
}

/** UDP packets to or from port 51820 in a pcap (Ethernet, IPv4): counts WireGuard on the wire. */
export function wireguardPackets(pcap: Buffer): number {
  let n = 0
  let off = 24 // global header
  while (off + 16 <= pcap.length) {
    const caplen = pcap.readUInt32LE(off + 8)
    const pkt = pcap.subarray(off + 16, off + 16 + caplen)
    off += 16 + caplen
    if (pkt.length < 42 || pkt.readUInt16BE(12) !== 0x0800 || pkt[23] !== 17) continue
    const ihl = (pkt[14]! & 0x0f) * 4
    const sport = pkt.readUInt16BE(14 + ihl)
    const dport = pkt.readUInt16BE(16 + ihl)
    if (sport === 51820 || dport === 51820) n++
  }
  return n
}

/** The add-ons whose one Deployment pod the services checks need on a real node. */
const PLACED_ADDONS = [
  ['kube-system', 'k8s-app=kube-dns'],
  ['metallb-system', 'app=metallb,component=controller'],
  ['local-path-storage', 'app=local-path-provisioner'],
] as const

/**
 * The add-ons prefer Nodes with a real kubelet (a lab's kwok boards run no containers), but
 * a preference counts only when a pod is scheduled: on a loaded machine they can come before
 * the x86 nodes are Ready, and then CoreDNS and MetalLB's controller sit on kwok boards for
 * good (and MetalLB's speakers wait for the secret its controller makes). Once the real
 * nodes are Ready, such pods are deleted and placed again.
 */
export async function placeAddonsOnRealNodes(kubectl: Kubectl, real: string[]): Promise<void> {
  // Polled, not `kubectl wait`: that fails at once while a Node is not registered yet.
  await waitFor(
    async () => {
      const r = await kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ])
      const ready = new Set(
        r.stdout
          .split('\n')
          .filter((l) => l.endsWith(' True'))
          .map((l) => l.split(' ')[0]),
      )
      const missing = real.filter((n) => !ready.has(n))
      return missing.length === 0 ? true : `kubelet nodes not Ready yet: ${missing.join(', ')}`
    },
    { timeoutMs: 300_000, intervalMs: 1000 },
  )
  for (const [ns, selector] of PLACED_ADDONS) {
    const r = await kubectl([
      '-n',
      ns,
      'get',
      'pods',
      '-l',
      selector,
      '-o',
      'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{"\\n"}{end}',
    ])
    for (const [pod, node] of r.stdout.split('\n').map((l) => l.split(' ')))
      if (pod && node && !real.includes(node)) await kubectl(['-n', ns, 'delete', 'pod', pod, '--wait=false'])
  }
}
