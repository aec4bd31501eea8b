import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The joiner proves it knows the join secret with a MAC over the Noise handshake
 * hash of this very connection (channel binding): a recorded exchange replayed on
 * any other connection fails, because no two connections share a handshake hash.
 * The signer answers with a MAC under a different label, so the joiner knows it
 * got its certificate from the cluster and not from someone who only knows the id.
 */
export function joinProof(secretHex: string, handshakeHash: Buffer, nodeId: string, csrPem: string): string {
  return mac(secretHex, 'homecloud/join/request/v1', handshakeHash, nodeId, sha256(csrPem))
}

export function replyProof(
  secretHex: string,
  handshakeHash: Buffer,
  nodeId: string,
  certPem: string,
  caPem: string,
): string {
  return mac(secretHex, 'homecloud/join/reply/v1', handshakeHash, nodeId, sha256(certPem), sha256(caPem))
}

export function proofMatches(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, 'hex')
  const b = Buffer.from(givenHex, 'hex')
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b)
}

/**
 * The short code shown on the joining node's console and beside its pending entry
 * on the status page: derived from its key, so a user comparing the two knows they
 * approve the machine in front of them.
 */
export function shortCode(publicKeyHex: string): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  const digest = createHash('sha256').update(`homecloud/code/v1/${publicKeyHex}`).digest()
  const chars = [...digest.subarray(0, 6)].map((b) => alphabet[b % alphabet.length])
  return `${chars.slice(0, 3).join('')}-${chars.slice(3).join('')}`
}

function mac(secretHex: string, label: string, handshakeHash: Buffer, ...parts: string[]): string {
  const h = createHmac('sha256', Buffer.from(secretHex, 'hex'))
  h.update(label)
  h.update('\0')
  h.update(handshakeHash)
  for (const p of parts) {
    h.update('\0')
    h.update(p)
  }
  return h.digest('hex')
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex')
}
