import type { PlannedPeer } from './plan.js'

// wireguard-go's configuration protocol (the cross-platform UAPI: `get=1` / `set=1` over
// its unix socket, key=value lines, a blank line ends a message), pure: parse what the
// device holds, and write the smallest `set` that makes it hold what the plan says. Peers
// already right are left alone, so their sessions survive every pass.

export interface DevicePeer {
  publicKeyHex: string
  endpoint?: string
  allowedIps: string[]
  lastHandshakeSec: number
  rxBytes: number
  txBytes: number
}

export interface DeviceState {
  privateKeyHex?: string
  listenPort?: number
  peers: DevicePeer[]
}

export interface DesiredDevice {
  privateKey: Buffer
  listenPort: number
  peers: readonly PlannedPeer[]
  /** Seconds; keeps NAT and stateful firewalls between boards open. 0 = off. */
  keepaliveSec: number
}

/** A `get=1` answer → the device; throws on a non-zero errno (the answer's last line). */
export function parseDeviceState(text: string): DeviceState {
  const state: DeviceState = { peers: [] }
  let peer: DevicePeer | null = null
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=')
    if (eq < 0) continue
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'errno' && value !== '0') throw new Error(`wireguard-go answered errno=${value}`)
    if (key === 'public_key') {
      peer = { publicKeyHex: value, allowedIps: [], lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 }
      state.peers.push(peer)
    } else if (!peer) {
      if (key === 'private_key') state.privateKeyHex = value
      if (key === 'listen_port') state.listenPort = Number(value)
    } else if (key === 'endpoint') peer.endpoint = value
    else if (key === 'allowed_ip') peer.allowedIps.push(value)
    else if (key === 'last_handshake_time_sec') peer.lastHandshakeSec = Number(value)
    else if (key === 'rx_bytes') peer.rxBytes = Number(value)
    else if (key === 'tx_bytes') peer.txBytes = Number(value)
  }
  return state
}

/** The `set=1` message taking `actual` to `desired`, or null when nothing differs. */
export function deviceUpdate(actual: DeviceState, desired: DesiredDevice, port: number): string | null {
  const lines: string[] = []
  const keyHex = desired.privateKey.toString('hex')
  if (actual.privateKeyHex !== keyHex) lines.push(`private_key=${keyHex}`)
  if (actual.listenPort !== desired.listenPort) lines.push(`listen_port=${desired.listenPort}`)
  const want = new Map(desired.peers.map((p) => [p.publicKey!.toString('hex'), p]))
  for (const p of actual.peers)
    if (!want.has(p.publicKeyHex)) lines.push(`public_key=${p.publicKeyHex}`, 'remove=true')
  for (const [hex, p] of want) {
    const have = actual.peers.find((a) => a.publicKeyHex === hex)
    const endpoint = `${p.address}:${port}`
    const ips = [p.podCidr]
    if (have && have.endpoint === endpoint && sameSet(have.allowedIps, ips)) continue
    lines.push(`public_key=${hex}`, `endpoint=${endpoint}`)
    if (desired.keepaliveSec > 0) lines.push(`persistent_keepalive_interval=${desired.keepaliveSec}`)
    lines.push('replace_allowed_ips=true', ...ips.map((ip) => `allowed_ip=${ip}`))
  }
  return lines.length ? `set=1\n${lines.join('\n')}\n\n` : null
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x))
