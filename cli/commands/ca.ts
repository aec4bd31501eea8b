import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { caFingerprint } from '../../agent/api/ca-routes.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { readAdminConfig } from '../../agent/trust/admin-config.js'

// The cluster CA a browser must trust for the HTTPS status page, with the fingerprint to
// compare against what the page at /ca shows (that page comes over plain HTTP).

async function caOf(opts: { state?: string; admin?: string }): Promise<string> {
  if (opts.admin) return (await readAdminConfig(opts.admin)).caCert
  if (!opts.state)
    throw new HomecloudError(
      'CONFIG_INVALID',
      'say where the CA is',
      'pass --state DIR (a node) or --admin admin.json',
    )
  const path = pkiPaths(opts.state).caCert
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new HomecloudError(
      'STATE_DIR',
      `cannot read the cluster CA ${path}: ${(err as Error).message}`,
      'a node holds it once it has joined; pass the state directory of a member',
    )
  }
}

export function caCommand(): Command {
  return new Command('ca')
    .description('print the cluster CA (to trust the HTTPS status page) and its SHA-256 fingerprint')
    .option('--state <dir>', "a node's state directory")
    .option('--admin <file>', 'or the admin client config (admin.json)')
    .option('--fingerprint', 'print only the fingerprint')
    .action(async (opts: { state?: string; admin?: string; fingerprint?: boolean }) => {
      const pem = await caOf(opts)
      let fingerprint: string
      try {
        fingerprint = caFingerprint(pem)
      } catch (err) {
        throw new HomecloudError(
          'PKI_CERT_INVALID',
          `the cluster CA is unreadable: ${(err as Error).message}`,
        )
      }
      if (opts.fingerprint) {
        process.stdout.write(`${fingerprint}\n`)
        return
      }
      // The PEM alone on stdout (`homecloud ca --state DIR > homecloud-ca.crt`), the fingerprint beside it.
      process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`)
      process.stderr.write(
        `SHA-256 fingerprint: ${fingerprint}\nCompare it with the one at http://NODE:7080/ca before importing the CA.\n`,
      )
    })
}
