import { resolve } from 'node:path'
import { HomecloudError } from '../agent/core/errors.js'
import { findNode } from './access.js'
import { cleanKubeletNode } from './kubelet-node.js'
import { type LabFile, type LabNode, readLabFile, writeLabFile } from './lab-file.js'
import { labNetworkAdapter } from './network.js'
import { launch } from './node-start.js'
import { isLabProcess, killHard } from './processes.js'

// What a test or a user does to one node of a running lab: pull its power (unplug),
// power it on again (plug), cut its link and heal it (namespace labs).

/** SIGKILL with no warning, like pulling the cable; the node keeps its state directory. */
export async function labUnplug(dirIn: string, name: string): Promise<LabNode> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (node.pid === null || !(await isLabProcess(node.pid, lab.dir))) {
    throw new HomecloudError(
      'LAB_INVALID',
      `${name} is already unplugged`,
      `plug it back with \`homecloud lab plug ${name}\``,
    )
  }
  await killHard(node.pid, lab.dir)
  // A board losing power loses its containers too.
  if (node.kubelet) await cleanKubeletNode(node.stateDir, node.kubelet.cgroupRoot)
  node.pid = null
  await writeLabFile(lab)
  return node
}

/** Power the node back on with the same state directory (same identity). */
export async function labPlug(dirIn: string, name: string): Promise<LabNode> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (node.pid !== null && (await isLabProcess(node.pid, lab.dir))) {
    throw new HomecloudError('LAB_INVALID', `${name} is already running`)
  }
  node.pid = launch(lab, node)
  await writeLabFile(lab)
  return node
}

/**
 * Cuts a node off the network (namespace labs only): its link goes down at the bridge,
 * the agent keeps running and sees everyone vanish, as everyone sees it vanish.
 */
export async function labCut(dirIn: string, name: string): Promise<LabNode> {
  const { lab, node } = await netnsNode(dirIn, name, 'cut')
  await labNetworkAdapter.cut(lab.index, node.slot)
  return node
}

/** Puts a cut node's link back up. */
export async function labHeal(dirIn: string, name: string): Promise<LabNode> {
  const { lab, node } = await netnsNode(dirIn, name, 'heal')
  await labNetworkAdapter.heal(lab.index, node.slot)
  return node
}

async function netnsNode(
  dirIn: string,
  name: string,
  verb: string,
): Promise<{ lab: LabFile; node: LabNode }> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (lab.mode !== 'netns') {
    throw new HomecloudError(
      'LAB_INVALID',
      `cannot ${verb} ${name}: links exist only in a namespace lab`,
      'start the lab with `homecloud lab up --netns` (root), or use `lab unplug` to stop a node',
    )
  }
  return { lab, node }
}
