import type { Arch } from './schema.js'

// Pure mappings from raw systeminformation / procfs values to our facts.

const ARCHES: Record<string, Arch> = {
  x64: 'amd64',
  x86_64: 'amd64',
  amd64: 'amd64',
  arm64: 'arm64',
  aarch64: 'arm64',
  arm: 'arm',
  armv7l: 'arm',
  armv6l: 'arm',
  armhf: 'arm',
  ia32: '386',
  i386: '386',
  i686: '386',
  x86: '386',
  riscv64: 'riscv64',
}

/** Node/uname architecture name → our Arch. */
export function archFromNode(arch: string): Arch {
  return ARCHES[arch.trim().toLowerCase()] ?? 'unknown'
}

// Firmware placeholders vendors leave in DMI tables; they name nothing.
const DMI_PLACEHOLDERS = [
  '',
  '-',
  'default string',
  'to be filled by o.e.m.',
  'system manufacturer',
  'system product name',
  'not applicable',
  'not specified',
  'none',
  'unknown',
  'o.e.m.',
  'oem',
]

export interface BoardInput {
  arch: Arch
  /** /proc/device-tree/model, raw (may end with NUL). */
  deviceTreeModel?: string
  manufacturer?: string
  model?: string
}

/** A human board name: device-tree model on ARM/RISC-V, DMI vendor + model on x86. */
export function boardName(input: BoardInput): string {
  const dt = (input.deviceTreeModel ?? '').replace(/\0+$/g, '').replace(/\0/g, ' ').trim()
  if (dt) return clip(dt, 128)
  const vendor = dmiValue(input.manufacturer)
  const model = dmiValue(input.model)
  // Some vendors repeat their name in the model ("LENOVO" + "LENOVO ThinkPad").
  const joined =
    vendor && model.toLowerCase().startsWith(vendor.toLowerCase())
      ? model
      : [vendor, model].filter(Boolean).join(' ')
  if (joined) return clip(joined, 128)
  if (input.arch === 'amd64' || input.arch === '386') return 'generic x86'
  return input.arch === 'unknown' ? 'generic' : `generic ${input.arch}`
}

/** "Intel" + "Core™ i5-8250U" → "Intel Core i5-8250U"; empty parts dropped. */
export function cpuModelName(manufacturer: string | undefined, brand: string | undefined): string {
  const m = (manufacturer ?? '').trim()
  const b = (brand ?? '').replace(/[™®]|\((TM|R)\)/gi, '').trim()
  const name = b.toLowerCase().startsWith(m.toLowerCase()) ? b : `${m} ${b}`
  return clip(name.replace(/\s+/g, ' ').trim(), 128)
}

export interface InterfaceInput {
  iface: string
  mac: string
  internal?: boolean
  virtual?: boolean
}

// Interfaces that software creates; their MACs are not the machine's.
const VIRTUAL_IFACE =
  /^(lo|docker|veth|br-|virbr|vnet|cni|flannel|cali|cilium|kube|tun|tap|wg|tailscale|zt|vxlan|genev|dummy|bond|team|vmnet|lxc|podman)/

const macsMax = 32

/** Hardware MACs, lowercase, deduplicated, in interface order. */
export function hardwareMacs(ifaces: readonly InterfaceInput[]): string[] {
  const out: string[] = []
  for (const i of ifaces) {
    if (i.internal || i.virtual || VIRTUAL_IFACE.test(i.iface)) continue
    const mac = i.mac.trim().toLowerCase().replace(/-/g, ':')
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) continue
    if (mac === '00:00:00:00:00:00' || mac === 'ff:ff:ff:ff:ff:ff') continue
    if (!out.includes(mac)) out.push(mac)
    if (out.length >= macsMax) break
  }
  return out
}

function dmiValue(s: string | undefined): string {
  const v = (s ?? '').trim()
  return DMI_PLACEHOLDERS.includes(v.toLowerCase()) ? '' : v
}

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) : s
}
