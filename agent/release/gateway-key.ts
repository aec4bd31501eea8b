import type { Logger } from 'pino'
import { generateRsaKeyPemAsync } from '../pki/keys.js'

/**
 * The etcd gateway certificate's next key, made off the event loop: a key pair costs ~0.7 s
 * of CPU on a loaded box, so it is made once per CA key (and half-life), not per voter
 * change, and never in line on a path the mesh's probes share. Each key is handed out once.
 */
export class GatewayKeys {
  private making: { caKey: string; keyPem: string | null } | null = null

  constructor(private readonly log: Logger) {}

  /** A new key for this CA key, or null while it is being made (ask again later). */
  take(caKey: string): string | null {
    const k = this.making
    if (k?.caKey === caKey) {
      if (k.keyPem !== null) this.making = null
      return k.keyPem
    }
    const making: { caKey: string; keyPem: string | null } = { caKey, keyPem: null }
    this.making = making
    generateRsaKeyPemAsync().then(
      (keyPem) => {
        making.keyPem = keyPem
      },
      (err) => {
        if (this.making === making) this.making = null
        this.log.warn({ err: (err as Error).message }, 'could not make the etcd gateway key')
      },
    )
    return null
  }
}
