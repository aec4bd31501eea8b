import type { TestContext } from 'node:test'
import type { EtcdClient } from '../../agent/etcd/client.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import type { LabUpOptions } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { etcdClientFor, healthyVoters, nodeIdOf } from './controlplane.js'
import { startLab } from './lab.js'
import { startWriteLoad, type WriteLoad } from './write-load.js'

// The prologue of the control-plane failure tests (deaths, failover, partition): a lab
// whose etcd has three healthy voters, an etcd client on every node, and a write load
// through etcd whose acknowledged keys must all survive what the test then breaks.

export interface VoterLab {
  lab: LabFile
  nodes: LabNode[]
  /** Lab nodes by node id (etcd member names are node ids). */
  byId: Map<string, LabNode>
  /** On every node's client port; closed after the test. */
  client: EtcdClient
  /** Waits for three healthy voters, none of them in `gone` (unplugged boards); returns them. */
  threeVoters(timeoutMs: number, gone?: ReadonlySet<LabNode>): Promise<LabNode[]>
}

/** Starts the lab (torn down after the test file) and waits for its first three voters. */
export async function startVoterLab(
  t: TestContext,
  opts: Omit<LabUpOptions, 'dir'> & { votersTimeoutMs: number },
): Promise<VoterLab & { voters: LabNode[] }> {
  const { votersTimeoutMs, ...labOpts } = opts
  const lab = await startLab(labOpts)
  const nodes = lab.nodes
  const byId = new Map<string, LabNode>()
  for (const n of nodes) byId.set(await nodeIdOf(n), n)
  const client = await etcdClientFor(lab, nodes)
  t.after(() => client.close())
  const threeVoters = async (timeoutMs: number, gone: ReadonlySet<LabNode> = new Set()) => {
    let voters: (LabNode | undefined)[] = []
    await waitFor(
      async () => {
        const list = await client.memberList().catch(() => undefined)
        if (!list) return 'no member list'
        voters = list.members.filter((m) => !m.isLearner).map((m) => byId.get(m.name))
        if (voters.some((v) => v === undefined)) return 'a voter without a lab node yet'
        if (voters.some((v) => gone.has(v!))) return 'a dead board is still a voter'
        return voters.length === 3 ? healthyVoters(client, voters as LabNode[]) : `${voters.length} voters`
      },
      { timeoutMs, intervalMs: 250 },
    )
    return voters as LabNode[]
  }
  const voters = await threeVoters(votersTimeoutMs)
  return { lab, nodes, byId, client, threeVoters, voters }
}

/**
 * A write load through one etcd client per list of nodes (stopped, then its clients
 * closed, after the test); resolves once `warmAcked` writes are acknowledged.
 */
export async function startLabWriteLoad(
  t: TestContext,
  lab: LabFile,
  through: readonly (readonly LabNode[])[],
  prefix: string,
  warmAcked: number,
): Promise<WriteLoad> {
  const writers = await Promise.all(through.map((nodes) => etcdClientFor(lab, nodes)))
  const load = startWriteLoad(writers, prefix)
  t.after(async () => {
    await load.stop()
    for (const w of writers) w.close()
  })
  await waitFor(async () => (load.acked.length >= warmAcked ? true : 'few writes yet'), { timeoutMs: 20_000 })
  return load
}
