import { HomecloudError } from '../agent/core/errors.js'

/** What the launcher needs from the namespace adapter (lab/netns), kept narrow. */
export interface LabNetworkAdapter {
  create(index: number, nodes: number): Promise<void>
  addNode(index: number, slot: number): Promise<void>
  namespace(index: number, slot: number): string
  destroy(index: number): Promise<void>
}

export const labNetworkAdapter: LabNetworkAdapter = {
  async create() {
    throw new HomecloudError('LAB_INVALID', 'netns labs are not wired yet')
  },
  async addNode() {
    throw new HomecloudError('LAB_INVALID', 'netns labs are not wired yet')
  },
  namespace: (index, slot) => `hc${index}n${slot}`,
  async destroy() {},
}
