import type { MeshGate } from '../mesh/mesh-init.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { CertBook } from './cert-book.js'

/**
 * Membership is certificate-gated: the mesh admits a record only if the book holds a
 * valid, unrevoked agent certificate for its node. A node whose own certificate is not
 * in the book yet (a joiner) admits nobody.
 */
export function certificateGate(book: CertBook, selfId: string): MeshGate {
  return {
    canAdmit: () => book.get(selfId) !== undefined,
    admits(body: NodeRecordBody) {
      if (body.id === selfId) return 'member'
      if (book.isRevoked(body.id)) return 'revoked'
      return book.isMember(body.id) ? 'member' : 'uncertified'
    },
  }
}
