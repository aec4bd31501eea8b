/**
 * kwok's RBAC: its manifests directory (under manifests/) and the ConfigMap recording it,
 * its own since a keeper forgets files missing from its directory. Tried every `retryMs`
 * until first applied (the coordinator's duties tick): kwok's Nodes wait for it.
 */
export const kwokRbac = { dir: 'kwok-rbac', stateConfigMap: 'homecloud-kwok-rbac', retryMs: 3000 }
