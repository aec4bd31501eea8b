import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import { labKubeconfig } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'

/**
 * The built kubectl with the lab's admin kubeconfig through `nodeName`'s balancer,
 * written into the lab directory (`file`); failures come back as results, not throws.
 */
export async function labKubectl(
  labDir: string,
  nodeName: string,
  opts: { file?: string; requestTimeout?: string } = {},
) {
  const { kubectl: bin } = await findKubePrograms(['kubectl'])
  const kubeconfig = join(labDir, opts.file ?? 'test.kubeconfig')
  await writeFile(kubeconfig, await labKubeconfig(labDir, nodeName), { mode: 0o600 })
  const timeout = `--request-timeout=${opts.requestTimeout ?? '10s'}`
  const kubectl = async (args: string[]) => {
    const r = await execa(bin, ['--kubeconfig', kubeconfig, timeout, ...args], { reject: false })
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  return { kubeconfig, kubectl }
}

/**
 * `kubectl apply` of one manifest (written to `dir/name.json`), retried until the API
 * accepts it: a new cluster's `default` service account appears only once the
 * controller manager has run, and a pod asked for before then is refused.
 */
export async function applyWhenAccepted(
  kubectl: (args: string[]) => Promise<{ exitCode?: number; stderr: string }>,
  dir: string,
  name: string,
  manifest: unknown,
  timeoutMs = 120_000,
): Promise<void> {
  const file = join(dir, `${name}.json`)
  await writeFile(file, JSON.stringify(manifest))
  await waitFor(
    async () => {
      const r = await kubectl(['apply', '-f', file])
      return r.exitCode === 0 ? true : r.stderr.trim()
    },
    { timeoutMs, intervalMs: 1000 },
  )
}

export type Kubectl = Awaited<ReturnType<typeof labKubectl>>['kubectl']
