import type { ParsedCsr } from './csr.js'
import { minKeyBits } from './keys.js'
import { canonicalIp, isDnsName, unique } from './names.js'
import { type CertSubject, PROFILES, type ProfileName, profileMarker, profileSans } from './profiles.js'

// The signer's decision, kept pure: given what a CSR asks for and what the caller
// (join protocol, control plane) is willing to grant, either a plan of exactly what
// will be signed or a typed refusal. Nothing the CSR asks for is copied into the
// certificate; the CSR may only ask for a subset of what the plan grants.

export interface SigningRequest {
  profile: ProfileName
  identity: CertSubject
  /** Replaces the profile's subject; decided by the signer, never by the requester. */
  subject?: { commonName?: string; organizations?: readonly string[] }
  /** Extra SANs on top of the profile's (e.g. a name a load balancer is reached by). */
  sans?: { dnsNames?: readonly string[]; ips?: readonly string[] }
  /** When set, every node address (identity, `sans`, CSR) must be one of these. */
  allowedIps?: readonly string[]
  /** Ids, names and addresses that belong to other nodes: never granted here. */
  reservedNames?: readonly string[]
  minKeyBits?: number
}

export interface IssuePlan {
  profile: ProfileName
  commonName: string
  organizations: string[]
  organizationalUnit: string
  dnsNames: string[]
  ips: string[]
  serverAuth: boolean
  clientAuth: boolean
}

export type PolicyReason =
  | 'identity-incomplete'
  | 'bad-name'
  | 'ip-required'
  | 'ca-requested'
  | 'weak-key'
  | 'cn-mismatch'
  | 'org-not-allowed'
  | 'name-taken'
  | 'ip-not-allowed'
  | 'san-not-allowed'

export type PolicyErrorCode = 'PKI_CSR_MISMATCH' | 'PKI_FORBIDDEN_REQUEST' | 'PKI_REQUEST_INVALID'

export interface PolicyRefusal {
  ok: false
  code: PolicyErrorCode
  reason: PolicyReason
  message: string
}

export type PolicyDecision = { ok: true; plan: IssuePlan } | PolicyRefusal

const refuse = (code: PolicyErrorCode, reason: PolicyReason, message: string): PolicyRefusal => ({
  ok: false,
  code,
  reason,
  message,
})

export function checkSigningRequest(csr: ParsedCsr, req: SigningRequest): PolicyDecision {
  const spec = PROFILES[req.profile]
  const id = req.identity

  const missing = spec.needs.filter((f) => (f === 'ips' ? !id.ips?.length : !id[f]))
  if (missing.length > 0) {
    return refuse('PKI_REQUEST_INVALID', 'identity-incomplete', `${req.profile} needs ${missing.join(', ')}`)
  }
  const commonName = req.subject?.commonName ?? spec.commonName(id)
  if (!commonName)
    return refuse('PKI_REQUEST_INVALID', 'identity-incomplete', `${req.profile} has no common name`)
  const organizations = [...(req.subject?.organizations ?? spec.organizations)]
  const names = plannedNames(req)
  if ('ok' in names) return names
  const refusal =
    requestedRights(csr, req, commonName, organizations) ??
    namesOfOthers(csr, req, commonName, names.nodeIps) ??
    namesNotPlanned(csr, names)
  if (refusal) return refusal
  return {
    ok: true,
    plan: {
      profile: req.profile,
      commonName,
      organizations,
      organizationalUnit: profileMarker(req.profile),
      dnsNames: names.dnsNames,
      ips: names.ips,
      serverAuth: spec.serverAuth,
      clientAuth: spec.clientAuth,
    },
  }
}

interface PlannedNames {
  dnsNames: string[]
  /** The node's own addresses (the requester's, checked against `allowedIps`). */
  nodeIps: string[]
  ips: string[]
}

/** Names and addresses, canonical, checked for syntax. */
function plannedNames(req: SigningRequest): PlannedNames | PolicyRefusal {
  const planned = profileSans(req.profile, req.identity)
  const dnsNames = unique([...planned.dnsNames, ...(req.sans?.dnsNames ?? [])].map((n) => n.toLowerCase()))
  const badName = dnsNames.find((n) => !isDnsName(n))
  if (badName !== undefined)
    return refuse('PKI_REQUEST_INVALID', 'bad-name', `not a usable DNS name: ${badName}`)
  const rawNodeIps = [...planned.nodeIps, ...(req.sans?.ips ?? [])]
  const badIp = [...rawNodeIps, ...planned.fixedIps].find((ip) => canonicalIp(ip) === undefined)
  if (badIp !== undefined) return refuse('PKI_REQUEST_INVALID', 'bad-name', `not an IP address: ${badIp}`)
  const nodeIps = unique(rawNodeIps.map((ip) => canonicalIp(ip)!))
  const ips = unique([...nodeIps, ...planned.fixedIps.map((ip) => canonicalIp(ip)!)])
  if (PROFILES[req.profile].san.ipRequired && ips.length === 0) {
    return refuse('PKI_REQUEST_INVALID', 'ip-required', `${req.profile} certificates need an IP SAN`)
  }
  return { dnsNames, nodeIps, ips }
}

/** What the requester asked for: no CA rights, a strong key, the profile's name and organizations. */
function requestedRights(
  csr: ParsedCsr,
  req: SigningRequest,
  commonName: string,
  organizations: readonly string[],
): PolicyRefusal | null {
  if (csr.requestsCa) return refuse('PKI_FORBIDDEN_REQUEST', 'ca-requested', 'the CSR asks for CA rights')
  const minBits = req.minKeyBits ?? minKeyBits
  if (csr.keyBits < minBits) {
    return refuse('PKI_FORBIDDEN_REQUEST', 'weak-key', `RSA ${csr.keyBits} bits is below ${minBits}`)
  }
  if (csr.commonName !== commonName) {
    return refuse(
      'PKI_CSR_MISMATCH',
      'cn-mismatch',
      `CSR common name ${JSON.stringify(csr.commonName)} is not ${JSON.stringify(commonName)} (${req.profile})`,
    )
  }
  const extraOrg = csr.organizations.find((o) => !organizations.includes(o))
  if (extraOrg !== undefined) {
    return refuse('PKI_FORBIDDEN_REQUEST', 'org-not-allowed', `the CSR asks for organization ${extraOrg}`)
  }
  return null
}

/** Another node's names are never granted, whoever asks; nor addresses not the requester's. */
function namesOfOthers(
  csr: ParsedCsr,
  req: SigningRequest,
  commonName: string,
  nodeIps: readonly string[],
): PolicyRefusal | null {
  const id = req.identity
  const reserved = new Set((req.reservedNames ?? []).map((n) => canonicalIp(n) ?? n.toLowerCase()))
  const claimed = [
    id.nodeId,
    id.nodeName,
    commonName,
    ...(req.sans?.dnsNames ?? []),
    ...nodeIps,
    ...csr.dnsNames,
    ...csr.ips,
  ].filter((n): n is string => typeof n === 'string')
  const taken = claimed.find((n) => reserved.has(canonicalIp(n) ?? n.toLowerCase()))
  if (taken !== undefined)
    return refuse('PKI_FORBIDDEN_REQUEST', 'name-taken', `${taken} belongs to another node`)
  if (req.allowedIps) {
    const allowed = new Set(req.allowedIps.map((ip) => canonicalIp(ip) ?? ip))
    const notAllowed = [...nodeIps, ...csr.ips].find((ip) => !allowed.has(ip))
    if (notAllowed !== undefined) {
      return refuse(
        'PKI_FORBIDDEN_REQUEST',
        'ip-not-allowed',
        `address ${notAllowed} is not this requester's`,
      )
    }
  }
  return null
}

/** The CSR asks for no name or address beyond the planned ones. */
function namesNotPlanned(csr: ParsedCsr, names: PlannedNames): PolicyRefusal | null {
  const extraDns = csr.dnsNames.find((n) => !names.dnsNames.includes(n.toLowerCase()))
  if (extraDns !== undefined) {
    return refuse('PKI_FORBIDDEN_REQUEST', 'san-not-allowed', `the CSR asks for DNS name ${extraDns}`)
  }
  const extraIp = csr.ips.find((ip) => !names.ips.includes(ip))
  if (extraIp !== undefined) {
    return refuse('PKI_FORBIDDEN_REQUEST', 'san-not-allowed', `the CSR asks for address ${extraIp}`)
  }
  return null
}
