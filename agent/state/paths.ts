import { join } from 'node:path'

/** Where everything lives in a node's state directory; one place so layouts never drift. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    identityKey: join(stateDir, 'identity', 'node.key'),
    clusterFile: join(stateDir, 'cluster.json'),
    /** Join material (holds the join secret, 0600): on the founder, and on a node not yet joined. */
    joinFile: join(stateDir, 'join.json'),
    /** Nodes approved to join (signers only). */
    approvals: join(stateDir, 'approvals.json'),
    /** A ready client config for the admin certificate (founder only). */
    adminConfig: join(stateDir, 'admin.json'),
    meshState: join(stateDir, 'mesh', 'state.json'),
    data: join(stateDir, 'data'),
    logs: join(stateDir, 'logs'),
  }
}
export type StatePaths = ReturnType<typeof statePaths>
