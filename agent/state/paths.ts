import { join } from 'node:path'

/** Where everything lives in a node's state directory; one place so layouts never drift. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    identityKey: join(stateDir, 'identity', 'node.key'),
    clusterFile: join(stateDir, 'cluster.json'),
    meshState: join(stateDir, 'mesh', 'state.json'),
    data: join(stateDir, 'data'),
    logs: join(stateDir, 'logs'),
  }
}
export type StatePaths = ReturnType<typeof statePaths>
