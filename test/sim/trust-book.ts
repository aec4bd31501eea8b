import { normalizeSerial } from '../../agent/pki/keys.js'
import { mergeRevocations, type RevocationList, revokedSerials } from '../../agent/pki/revocations.js'

// The simulator's certificate book: agent/trust/cert-book.ts's rules (a member holds a
// valid certificate, revoked ids and serials are refused for good, the newest certificate
// wins) over stand-in certificates `simcert:<serial>:<nodeId>`. Serials rise with issue
// time across the cluster, so "newest" is the larger serial (the agent compares notAfter).

export interface SimCert {
  serial: string
  nodeId: string
  pem: string
}

export function certOf(pem: string): SimCert | null {
  const m = /^simcert:([0-9a-f]+):(.+)$/.exec(pem)
  return m ? { serial: m[1]!, nodeId: m[2]!, pem } : null
}

export class SimCertBook {
  private readonly certs = new Map<string, SimCert>()
  private readonly revokedIds = new Set<string>()
  private readonly revokedSerialSet = new Set<string>()
  revocations: RevocationList | undefined

  add(nodeId: string, pem: string): boolean {
    const c = certOf(pem)
    if (!c || c.nodeId !== nodeId) return false
    if (this.revokedIds.has(nodeId) || this.revokedSerialSet.has(normalizeSerial(c.serial))) return false
    const existing = this.certs.get(nodeId)
    if (!existing || Number.parseInt(c.serial, 16) >= Number.parseInt(existing.serial, 16))
      this.certs.set(nodeId, c)
    return true
  }

  get(nodeId: string): SimCert | undefined {
    return this.certs.get(nodeId)
  }

  isMember(nodeId: string): boolean {
    return this.certs.has(nodeId) && !this.revokedIds.has(nodeId)
  }

  isRevoked(nodeId: string): boolean {
    return this.revokedIds.has(nodeId)
  }

  revoked(): ReadonlySet<string> {
    return this.revokedIds
  }

  allPems(): string[] {
    return [...this.certs.values()].map((c) => c.pem)
  }

  /** cert-book.ts adoptRevocations: the union of every list seen; the newly revoked ids. */
  adoptRevocations(list: RevocationList): string[] {
    this.revocations = mergeRevocations(this.revocations, list)
    const newly = [...new Set(list.entries.map((e) => e.nodeId))].filter((id) => !this.revokedIds.has(id))
    for (const s of revokedSerials(list)) this.revokedSerialSet.add(s)
    for (const id of newly) {
      this.revokedIds.add(id)
      this.certs.delete(id)
    }
    return newly
  }
}
