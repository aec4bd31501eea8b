import { createHash, randomBytes } from 'node:crypto'
import { z } from 'zod'

/** Cluster ids are 16 hex characters: not secret (they ride on kernel command lines), only unique. */
export const ClusterId = z.string().regex(/^[0-9a-f]{16}$/, 'a cluster id is 16 lowercase hex characters')

export function newClusterId(): string {
  return randomBytes(8).toString('hex')
}

/** The hyperswarm topic: finding peers on it is not joining, so it may be derived from the public id. */
export function meshTopic(clusterId: string): Buffer {
  return createHash('sha256').update(`homecloud/mesh/v1/${clusterId}`).digest()
}

/** A short tag for LAN discovery names (mDNS service tags), so clusters never see each other. */
export function clusterTag(clusterId: string): string {
  return createHash('sha256').update(`homecloud/tag/v1/${clusterId}`).digest('hex').slice(0, 12)
}
