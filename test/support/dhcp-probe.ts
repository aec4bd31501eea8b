import { createSocket } from 'node:dgram'

// A DHCPDISCOVER as a Raspberry Pi 4's EEPROM bootloader sends it, and the offers that
// come back (test-side only: run inside the Pi's network namespace with
// `ip netns exec NS node --import tsx test/support/dhcp-probe.ts MAC`, it prints the
// offers as JSON lines). The Pi boots from an offer whose option 60 is "PXEClient" and
// whose option 43 holds "Raspberry Pi Boot"; its TFTP server is the offer's siaddr.

/** The vendor class and client architecture the Pi 4 bootloader sends (arch 0, UNDI 2.1). */
export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001'

export function piDiscover(mac: string, xid: number): Buffer {
  const p = Buffer.alloc(240)
  p[0] = 1 // BOOTREQUEST
  p[1] = 1 // Ethernet
  p[2] = 6
  p.writeUInt32BE(xid, 4)
  p.writeUInt16BE(0x8000, 10) // broadcast reply: no address yet
  Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16))).copy(p, 28)
  p.writeUInt32BE(0x63825363, 236) // magic cookie
  const opt = (code: number, value: Buffer) => Buffer.concat([Buffer.from([code, value.length]), value])
  const guid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4'), Buffer.alloc(12, 0x11)])
  return Buffer.concat([
    p,
    opt(53, Buffer.from([1])), // DHCPDISCOVER
    opt(55, Buffer.from([1, 3, 43, 54, 60, 66, 67])),
    opt(60, Buffer.from(PI_VENDOR_CLASS)),
    opt(93, Buffer.from([0, 0])),
    opt(94, Buffer.from([1, 2, 1])),
    opt(97, guid),
    Buffer.from([255]),
  ])
}

export interface DhcpOffer {
  xid: number
  yiaddr: string
  siaddr: string
  options: Record<number, string>
}

/** A BOOTREPLY's fields and options (option values as hex); null for anything else. */
export function parseReply(b: Buffer): DhcpOffer | null {
  if (b.length < 240 || b[0] !== 2 || b.readUInt32BE(236) !== 0x63825363) return null
  const ip = (at: number) => [...b.subarray(at, at + 4)].join('.')
  const options: Record<number, string> = {}
  for (let i = 240; i < b.length; ) {
    const code = b[i]!
    if (code === 255) break
    if (code === 0) {
      i++
      continue
    }
    const len = b[i + 1] ?? 0
    options[code] = b.subarray(i + 2, i + 2 + len).toString('hex')
    i += 2 + len
  }
  return { xid: b.readUInt32BE(4), yiaddr: ip(16), siaddr: ip(20), options }
}

/** Broadcasts the Pi's DISCOVER (three times, a second apart) and collects offers for `waitMs`. */
async function probe(mac: string, waitMs: number): Promise<DhcpOffer[]> {
  const xid = 0x52506934 // "RPi4"
  const sock = createSocket({ type: 'udp4', reuseAddr: true })
  const offers: DhcpOffer[] = []
  sock.on('message', (m) => {
    const r = parseReply(m)
    if (r && r.xid === xid) offers.push(r)
  })
  await new Promise<void>((res) => sock.bind(68, '0.0.0.0', res))
  sock.setBroadcast(true)
  for (let i = 0; i < 3; i++) {
    sock.send(piDiscover(mac, xid), 67, '255.255.255.255')
    await new Promise((r) => setTimeout(r, waitMs / 3))
  }
  sock.close()
  return offers
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mac = process.argv[2] ?? ''
  const offers = await probe(mac, Number(process.argv[3] ?? 3000))
  for (const o of offers) process.stdout.write(`${JSON.stringify(o)}\n`)
}
