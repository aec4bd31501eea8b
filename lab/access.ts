import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PORTS } from '../agent/config/schema.js'
import { HomecloudError } from '../agent/core/errors.js'
import { writeFileAtomic } from '../agent/core/files.js'
import { generatePassword } from '../agent/core/password.js'
import { adminKubeconfigFrom } from '../agent/kube/admin-kubeconfig.js'
import { pkiPaths } from '../agent/pki/store.js'
import { readAdminConfig } from '../agent/trust/admin-config.js'
import { type LabFile, type LabNode, readLabFile } from './lab-file.js'
import { isLabProcess } from './processes.js'

// How to reach a running lab: its nodes' URLs, its CA, its admin kubeconfig, the
// status-page password, a node by name.

const API_PORT = 7080

export function nodeUrl(node: Pick<LabNode, 'address'>): string {
  return `http://${node.address}:${API_PORT}/`
}

/** The node's HTTPS status page (login and actions); its certificate is from the lab's CA. */
export function nodeHttpsUrl(node: Pick<LabNode, 'address'>): string {
  return `https://${node.address}:${PORTS.https}/`
}

/** The lab cluster's CA (what a browser must trust for the HTTPS page), from the founder. */
export async function labCaPem(lab: Pick<LabFile, 'nodes'>): Promise<string> {
  const founder = lab.nodes[0]
  if (!founder) throw new HomecloudError('LAB_INVALID', 'the lab has no nodes')
  return readFile(pkiPaths(founder.stateDir).caCert, 'utf8')
}

export function findNode(lab: LabFile, name: string): LabNode {
  const node = lab.nodes.find((n) => n.name === name)
  if (!node) {
    throw new HomecloudError(
      'LAB_INVALID',
      `no node "${name}" in this lab`,
      `nodes: ${lab.nodes.map((n) => n.name).join(', ')}`,
    )
  }
  return node
}

/** The lab's admin kubeconfig through a node's load balancer (each lab node's is on its own address). */
export async function labKubeconfig(dirIn: string, nodeName?: string): Promise<string> {
  const lab = await readLabFile(resolve(dirIn))
  if (!lab.kube) {
    throw new HomecloudError(
      'LAB_INVALID',
      'this lab runs no Kubernetes',
      'start one with `homecloud lab up` (without --no-kube)',
    )
  }
  const running = []
  for (const n of lab.nodes) if (n.pid !== null && (await isLabProcess(n.pid, lab.dir))) running.push(n)
  const node = nodeName ? findNode(lab, nodeName) : running[0]
  if (!node) throw new HomecloudError('LAB_INVALID', 'no lab node is running', '`homecloud lab plug NAME`')
  return adminKubeconfigFrom(await readAdminConfig(join(lab.dir, 'admin.json')), { host: node.address })
}

/** The lab's status-page password: made once, kept in DIR/password.txt (0600) for the user. */
export async function labPassword(dir: string): Promise<string> {
  const path = join(dir, 'password.txt')
  const existing = await readFile(path, 'utf8').catch(() => '')
  if (existing.trim()) return existing.trim()
  const pw = generatePassword()
  await writeFileAtomic(path, `${pw}\n`, 0o600)
  return pw
}
