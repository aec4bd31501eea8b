import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'
import { LAB_ENV } from '../../lab/processes.js'
import type { KubeTestCluster } from './kube-cluster.js'

// What drain tests share: the real `homecloud` CLI against a KubeTestCluster (admin
// kubeconfig; the lock through etcd with the test client certificate), and a pod
// watcher over the API server's watch (client-node), recording every state it saw.

export interface Cli {
  run(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>
  spawn(args: string[]): ResultPromise
}

export async function cliFor(c: KubeTestCluster): Promise<Cli> {
  const admin = join(c.etcd.dir, 'admin.json')
  const f = c.etcd.clientFiles
  await writeFile(
    admin,
    JSON.stringify({
      v: 1,
      clusterId: 'c-test',
      urls: [`https://${c.address}:7443`],
      caCert: f.caFile,
      cert: f.certFile,
      key: f.keyFile,
    }),
  )
  const common = [
    '--kubeconfig',
    c.adminKubeconfig,
    '--admin',
    admin,
    '--etcd',
    c.etcd.members.get(1)!.clientUrl,
  ]
  const spawn = (args: string[]) =>
    execa(process.execPath, [join(packageRoot(), 'bin', 'homecloud.js'), ...args, ...common], {
      env: { [LAB_ENV]: c.etcd.dir },
      reject: false,
      all: false,
    })
  return {
    spawn,
    async run(args) {
      const r = await spawn(args)
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) }
    },
  }
}

export interface PodState {
  name: string
  node: string | undefined
  phase: string | undefined
  ready: boolean
  terminating: boolean
}

/** Watches pods with a label selector; `healthy()` counts Ready, non-terminating pods. */
export class PodWatcher {
  readonly pods = new Map<string, PodState>()
  /** The lowest healthy count seen since `arm()`. */
  minHealthy = Number.POSITIVE_INFINITY
  /** Set when the watch broke: the minimum is then no proof of anything. */
  error: string | undefined
  private armed = false
  private stopped = false
  private req: { abort(): void } | undefined

  static async start(kubeconfig: string, namespace: string, selector: string): Promise<PodWatcher> {
    const k8s = await import('@kubernetes/client-node')
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(kubeconfig)
    const w = new PodWatcher()
    const watch = new k8s.Watch(kc)
    // No resourceVersion: a consistent start, as of now (etcd 3.6 confirms it with a
    // progress notification; Debian's 3.4 could not, and the watch failed with a 504).
    w.req = await watch.watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: selector },
      (type: string, pod: import('@kubernetes/client-node').V1Pod) => {
        const name = pod.metadata?.name ?? ''
        if (type === 'ERROR') w.error = JSON.stringify(pod).slice(0, 300)
        else if (type === 'DELETED') w.pods.delete(name)
        else
          w.pods.set(name, {
            name,
            node: pod.spec?.nodeName,
            phase: pod.status?.phase,
            ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
            terminating: pod.metadata?.deletionTimestamp !== undefined,
          })
        if (w.armed) w.minHealthy = Math.min(w.minHealthy, w.healthy())
      },
      (err: unknown) => {
        if (!w.stopped) w.error ??= `watch ended: ${String(err)}`
      },
    )
    return w
  }

  healthy(): number {
    return [...this.pods.values()].filter((p) => p.phase === 'Running' && p.ready && !p.terminating).length
  }

  /** Start recording the minimum from now. */
  arm(): void {
    this.armed = true
    this.minHealthy = this.healthy()
  }

  stop(): void {
    this.stopped = true
    this.req?.abort()
  }
}
