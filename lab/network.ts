import {
  addNode,
  createLabNetwork,
  cutLink,
  destroyLabNetwork,
  labNames,
  restoreLink,
} from './netns/index.js'

/** What the launcher needs from the namespace adapter (lab/netns), kept narrow. */
export interface LabNetworkAdapter {
  create(index: number, nodes: number): Promise<void>
  addNode(index: number, slot: number): Promise<void>
  namespace(index: number, slot: number): string
  destroy(index: number): Promise<void>
  /** Takes the node's link down (a cable pulled at the switch); the node keeps running. */
  cut(index: number, slot: number): Promise<void>
  heal(index: number, slot: number): Promise<void>
}

export const labNetworkAdapter: LabNetworkAdapter = {
  async create(index, nodes) {
    // Holding the index claim means anything left under this index is from a crashed lab.
    await destroyLabNetwork(index)
    await createLabNetwork({ labIndex: index, nodes })
  },
  async addNode(index, slot) {
    await addNode(index, slot)
  },
  namespace: (index, slot) => labNames(index, slot).netns,
  async destroy(index) {
    await destroyLabNetwork(index)
  },
  async cut(index, slot) {
    await cutLink(index, slot)
  },
  async heal(index, slot) {
    await restoreLink(index, slot)
  },
}
