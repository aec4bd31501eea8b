import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../core/canonical.js'
import { ClusterSettings, type ClusterSettings as Settings } from '../state/cluster-file.js'

/**
 * Cluster settings (join policy, certificate lifetime, password hash) changed on one
 * signer must hold on every signer, or a node refused by one would be let in by
 * another. A change is signed with the CA key and versioned; every node verifies it
 * with the CA certificate and keeps the highest version.
 */
export const SignedSettings = z.object({
  version: z.number().int().nonnegative(),
  // Loose: a field a newer release added (stateDiskPolicy once was one) is kept, not
  // stripped. Stripped, the signed bytes would differ and an older agent mid-rollout would
  // refuse every settings change from then on, and relay a copy nobody could verify.
  settings: ClusterSettings.loose(),
  sig: z.string().min(1).max(1024),
})
export type SignedSettings = z.infer<typeof SignedSettings>

function bytes(version: number, settings: Settings): Buffer {
  return Buffer.from(`homecloud/settings/v1\n${canonicalJson({ version, settings })}`)
}

export function signSettings(version: number, settings: Settings, caKeyPem: string): SignedSettings {
  const sig = sign('sha256', bytes(version, settings), createPrivateKey(caKeyPem)).toString('base64')
  return { version, settings, sig }
}

export function verifySettings(s: SignedSettings, caPem: string, clusterId: string): boolean {
  if (s.settings.id !== clusterId) return false
  try {
    const key = createPublicKey(new X509Certificate(caPem).publicKey.export({ format: 'pem', type: 'spki' }))
    return verify('sha256', bytes(s.version, s.settings), key, Buffer.from(s.sig, 'base64'))
  } catch {
    return false
  }
}
