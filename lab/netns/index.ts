// Network namespaces for the lab launcher: one bridge per lab, one namespace per node,
// all in 10.77.<labIndex>.0/24 with no route beyond the bridge.
export { execInNetns } from './exec.js'
export type { IpResult, IpRunner, IpRunnerSync } from './ip.js'
export { execaIpRunner, execaIpRunnerSync, ipCommandMsMax } from './ip.js'
export type { LabBridgeNames, LabNodeNames, ParsedLabName } from './names.js'
export {
  assertLabIndex,
  assertNodeIndex,
  labBridgeNames,
  labIndexMax,
  labIndexMin,
  labNames,
  nodeIndexMax,
  parseLabName,
} from './names.js'
export type { LabNamespace, LabNetwork, LabNetworkInit, LabNetworkOptions } from './network.js'
export {
  addNode,
  createLabNetwork,
  cutLink,
  destroyLabNetwork,
  destroyLabNetworkSync,
  listLabNamespaces,
  removeNode,
  restoreLink,
  sweepStaleLabNetworks,
} from './network.js'
export { shapeLink, shapePlan, unshapeLink, unshapePlan } from './shape.js'
