// dnsmasq's log lines → boot stages (pure). With log-dhcp, a PXE answer is logged as
// `<xid> PXE(eth0) [ip] <mac> <file|proxy>` and a TFTP transfer as `sent <path> to <ip>`.

export type DnsmasqEvent =
  | { kind: 'pxe'; mac: string; ip: string | null; ipxe: boolean }
  | { kind: 'tftp'; file: string; ip: string }

const pxeLine = /PXE\([^)]+\)\s+(?:(\d{1,3}(?:\.\d{1,3}){3})\s+)?([0-9a-f]{2}(?::[0-9a-f]{2}){5})\s+(\S+)/i
const tftpLine = /sent\s+(\S+)\s+to\s+(\d{1,3}(?:\.\d{1,3}){3})/

export function parseDnsmasqLine(line: string): DnsmasqEvent | null {
  const pxe = pxeLine.exec(line)
  if (pxe)
    return {
      kind: 'pxe',
      mac: pxe[2]!.toLowerCase(),
      ip: pxe[1] ?? null,
      ipxe: pxe[3]!.startsWith('http://'),
    }
  const tftp = tftpLine.exec(line)
  if (tftp && line.includes('dnsmasq-tftp')) return { kind: 'tftp', file: tftp[1]!, ip: tftp[2]! }
  return null
}

/** Lines worth a log entry at info level; the rest (option dumps) go to debug. */
export function dnsmasqLineLevel(line: string): 'info' | 'warn' | 'debug' {
  if (/failed|error|cannot|refused|bad /i.test(line)) return 'warn'
  if (/ sent size:|option:| tags: |vendor class|user class|available DHCP/.test(line)) return 'debug'
  if (/started|PXE\(|sent |DHCP, |TFTP root|exiting/.test(line)) return 'info'
  return 'debug'
}

/**
 * The MAC behind an address, from /proc/net/arp text (pure). Firmware fetching iPXE over
 * TFTP has a lease of its own that dnsmasq's proxy lines never show, but the kernel just
 * talked to it: its neighbour table knows the MAC.
 */
export function macFromArpTable(table: string, ip: string): string | undefined {
  for (const line of table.split('\n').slice(1)) {
    const [addr, , flags, mac] = line.trim().split(/\s+/)
    if (
      addr === ip &&
      flags !== '0x0' &&
      mac &&
      /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) &&
      mac !== '00:00:00:00:00:00'
    )
      return mac.toLowerCase()
  }
  return undefined
}
