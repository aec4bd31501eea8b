import type { RuntimePaths } from './paths.js'

// containerd's configuration for a kubelet node (pure): its own root, state and socket
// under the agent's state directory, the CRI plugin with our CNI directory, and the pause
// image the agent imported itself (images/pause/build.sh), so it is never pulled.

export interface ContainerdSpec {
  paths: RuntimePaths
  sandboxImage: string
  cniBinDirs: readonly string[]
  /** See HostRuntimeFacts.canLowerOomScore. */
  restrictOomScoreAdj: boolean
  /** See HostRuntimeFacts.rootIsInitramfs. */
  noPivotRoot?: boolean
}

const q = (s: string): string => JSON.stringify(s) // a TOML basic string is a JSON string

export function containerdConfig(s: ContainerdSpec): string {
  const p = s.paths
  const cri = 'plugins."io.containerd.grpc.v1.cri"'
  return [
    '# Written by the homecloud agent at every start; edits are overwritten.',
    'version = 2',
    `root = ${q(p.containerdRoot)}`,
    `state = ${q(p.containerdState)}`,
    '',
    '[grpc]',
    `  address = ${q(p.containerdSocket)}`,
    '',
    `[${cri}]`,
    `  sandbox_image = ${q(s.sandboxImage)}`,
    `  restrict_oom_score_adj = ${s.restrictOomScoreAdj}`,
    // Pod network namespaces under the state directory, not /run/netns: they go with the node.
    '  netns_mounts_under_state_dir = true',
    '  enable_cdi = false',
    `  [${cri}.cni]`,
    // containerd 1.6 takes one directory; the first that exists is used (Debian: /usr/lib/cni).
    `    bin_dir = ${q(s.cniBinDirs[0] ?? '/opt/cni/bin')}`,
    `    conf_dir = ${q(p.cniConfDir)}`,
    '    max_conf_num = 1',
    `  [${cri}.containerd]`,
    '    snapshotter = "overlayfs"',
    '    default_runtime_name = "runc"',
    `    [${cri}.containerd.runtimes.runc]`,
    '      runtime_type = "io.containerd.runc.v2"',
    `      [${cri}.containerd.runtimes.runc.options]`,
    // The agent runs without systemd (the netboot image's init is busybox): cgroupfs.
    '        SystemdCgroup = false',
    `        NoPivotRoot = ${s.noPivotRoot ?? false}`,
    '',
  ].join('\n')
}
