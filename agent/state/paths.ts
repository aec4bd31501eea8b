import { join } from 'node:path'

/** Where everything lives in a node's state directory; one place so layouts never drift. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    identityKey: join(stateDir, 'identity', 'node.key'),
    clusterFile: join(stateDir, 'cluster.json'),
    /** Join material (holds the join secret, 0600): on the founder, and on a node not yet joined. */
    joinFile: join(stateDir, 'join.json'),
    /** CA-signed approvals of nodes that have not joined yet (gossiped; every node keeps them). */
    approvals: join(stateDir, 'approvals.json'),
    /** The CA-signed settings document matching cluster.json's settingsVersion, to pass on after a restart. */
    signedSettings: join(stateDir, 'settings.json'),
    /** A ready client config for the admin certificate (founder only). */
    adminConfig: join(stateDir, 'admin.json'),
    meshState: join(stateDir, 'mesh', 'state.json'),
    data: join(stateDir, 'data'),
    logs: join(stateDir, 'logs'),
  }
}
export type StatePaths = ReturnType<typeof statePaths>
