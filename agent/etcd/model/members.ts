import { z } from 'zod'
import { HomecloudError } from '../../core/errors.js'
import { Uint64 } from './ids.js'
import { parseJsonKeepingBigInts } from './json-bigint.js'

// etcd membership as etcd reports it, from either the JSON gateway or `etcdctl -w json`
// (same field names; ids are strings in the one, bare big numbers in the other).

export const MemberWire = z.object({
  ID: Uint64,
  // A member added but not started yet has no name and no client URLs.
  name: z.string().optional().default(''),
  peerURLs: z.array(z.string()).optional().default([]),
  clientURLs: z.array(z.string()).optional().default([]),
  // proto3 JSON leaves false out.
  isLearner: z.boolean().optional().default(false),
})

export interface EtcdMember {
  id: bigint
  /** '' until the member has started and published itself. */
  name: string
  peerUrls: string[]
  clientUrls: string[]
  isLearner: boolean
}

export const MemberListWire = z.object({
  header: z.object({ cluster_id: Uint64 }).partial().optional(),
  members: z.array(MemberWire).optional().default([]),
})

export interface MemberList {
  clusterId: bigint | undefined
  members: EtcdMember[]
}

export function memberFromWire(m: z.infer<typeof MemberWire>): EtcdMember {
  return { id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner }
}

/** A member list already parsed from JSON (gateway body, or etcdctl via parseMemberListJson). */
export function parseMemberList(json: unknown): MemberList {
  const parsed = MemberListWire.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new HomecloudError(
      'ETCD_RESPONSE_INVALID',
      `etcd member list: ${issue?.path.join('.') || 'body'}: ${issue?.message}`,
    )
  }
  return {
    clusterId: parsed.data.header?.cluster_id,
    members: parsed.data.members.map(memberFromWire).sort(byId),
  }
}

/** The text `etcdctl member list -w json` prints, ids kept exact. */
export function parseMemberListJson(text: string): MemberList {
  let json: unknown
  try {
    json = parseJsonKeepingBigInts(text)
  } catch (err) {
    throw new HomecloudError('ETCD_RESPONSE_INVALID', 'etcd member list is not JSON', undefined, {
      cause: err,
    })
  }
  return parseMemberList(json)
}

const byId = (a: EtcdMember, b: EtcdMember) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export function findMemberByPeerUrl(members: readonly EtcdMember[], peerUrl: string): EtcdMember | undefined {
  return members.find((m) => m.peerUrls.includes(peerUrl))
}

export function findMemberByName(members: readonly EtcdMember[], name: string): EtcdMember | undefined {
  return members.find((m) => m.name === name)
}
