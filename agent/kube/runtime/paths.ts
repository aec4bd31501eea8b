import { join } from 'node:path'

// Where a kubelet node's container runtime lives: all under the agent's state directory,
// so a node's containers, images and pod logs go with its state (and a lab node's stay in
// its own directory). The containerd socket path must stay short (unix sockets: 107 bytes).

export interface RuntimePaths {
  dir: string
  containerdConfig: string
  containerdRoot: string
  containerdState: string
  containerdSocket: string
  cniConfDir: string
  kubeletConfig: string
  kubeletRoot: string
  podLogsDir: string
  pidDir: string
}

export function runtimePaths(kubeDir: string): RuntimePaths {
  const dir = join(kubeDir, 'runtime')
  return {
    dir,
    containerdConfig: join(dir, 'containerd.toml'),
    containerdRoot: join(dir, 'containerd'),
    containerdState: join(dir, 'containerd-state'),
    containerdSocket: join(dir, 'containerd.sock'),
    cniConfDir: join(dir, 'cni'),
    kubeletConfig: join(dir, 'kubelet.json'),
    kubeletRoot: join(dir, 'kubelet'),
    podLogsDir: join(dir, 'pod-logs'),
    pidDir: join(dir, 'run'),
  }
}
