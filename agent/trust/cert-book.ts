import { type CertInfo, verifyCertificate } from '../pki/cert.js'
import { mergeRevocations, type RevocationList, revokedSerials } from '../pki/revocations.js'

export type CertRejection = 'no-ca' | 'wrong-node' | 'not-agent' | 'revoked' | 'invalid'
export type CertCheck = { ok: true; info: CertInfo } | { ok: false; reason: CertRejection; detail: string }

/**
 * The certificates of members, verified against the cluster CA and the revocation
 * list. A node id is a member only while it has a valid, unrevoked agent
 * certificate here; the mesh asks this book before accepting any record.
 */
export class CertBook {
  private readonly certs = new Map<string, CertInfo & { certPem: string }>()
  private revocations: RevocationList | undefined
  private readonly revokedIds = new Set<string>()
  private readonly revokedSerialSet = new Set<string>()

  constructor(
    private caPem: string | null,
    private readonly clusterId: string,
    private readonly nowMs: () => number,
    private readonly certsMax = 1024,
  ) {}

  get ca(): string | null {
    return this.caPem
  }

  setCa(caPem: string): void {
    this.caPem = caPem
  }

  /** Verify and remember `certPem` as the certificate of `nodeId`. */
  add(nodeId: string, certPem: string): CertCheck {
    const v = this.check(nodeId, certPem)
    if (!v.ok) return v
    const existing = this.certs.get(nodeId)
    // Keep the newest: a renewal replaces the old certificate, a replay of the old one does not.
    if (!existing || v.info.notAfterMs >= existing.notAfterMs) {
      if (!existing && this.certs.size >= this.certsMax)
        return { ok: false, reason: 'invalid', detail: 'certificate book full' }
      this.certs.set(nodeId, { ...v.info, certPem })
    }
    return v
  }

  /**
   * Would `add` take `certPem` for `nodeId`? Nothing is remembered: a joiner checks its
   * certificate before saving it and takes it into the book (a member) only once it is saved.
   */
  check(nodeId: string, certPem: string): CertCheck {
    if (!this.caPem) return { ok: false, reason: 'no-ca', detail: 'no cluster CA yet' }
    const v = verifyCertificate(certPem, this.caPem, { nowMs: this.nowMs(), revoked: this.revokedSerialSet })
    if (!v.ok) return { ok: false, reason: v.reason === 'revoked' ? 'revoked' : 'invalid', detail: v.reason }
    if (v.commonName !== nodeId)
      return { ok: false, reason: 'wrong-node', detail: `certificate is for ${v.commonName}` }
    if (v.profile !== 'agent') return { ok: false, reason: 'not-agent', detail: `a ${v.profile} certificate` }
    if (this.revokedIds.has(nodeId)) return { ok: false, reason: 'revoked', detail: 'node revoked' }
    return { ok: true, info: v }
  }

  /**
   * The node whose exact certificate this is, if the book holds it and it still makes
   * that node a member. Every new connection brings every member certificate again;
   * parsing and verifying each (pure-JS parsing, ~ms apiece) on every connection grows
   * with the cube of the cluster size, while a text comparison settles the repeats.
   */
  memberOfPem(certPem: string): string | undefined {
    for (const [id, c] of this.certs) if (c.certPem === certPem) return this.isMember(id) ? id : undefined
    return undefined
  }

  /** A member right now: a certificate that is still valid and not revoked. */
  isMember(nodeId: string): boolean {
    const c = this.certs.get(nodeId)
    if (!c || this.revokedIds.has(nodeId)) return false
    return c.notAfterMs > this.nowMs()
  }

  isRevoked(nodeId: string): boolean {
    return this.revokedIds.has(nodeId)
  }

  get(nodeId: string): (CertInfo & { certPem: string }) | undefined {
    return this.certs.get(nodeId)
  }

  allPems(): string[] {
    return [...this.certs.values()].filter((c) => c.notAfterMs > this.nowMs()).map((c) => c.certPem)
  }

  get revocationList(): RevocationList | undefined {
    return this.revocations
  }

  /**
   * A verified revocation list: kept if it wins the total order (version, entries,
   * signature), and its nodes refused in any case. Refusal is a union over every list
   * seen, never shrinking: when two signers race to one version the loser's entries stay
   * refused here until a signer issues the union. Returns the node ids newly refused.
   */
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

  /** Every serial refused (the union over every verified list seen). */
  revokedSerials(): ReadonlySet<string> {
    return this.revokedSerialSet
  }

  get cluster(): string {
    return this.clusterId
  }
}
