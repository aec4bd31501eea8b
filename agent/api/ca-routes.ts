import { X509Certificate } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { CA_PAGE_PATH } from './page/pending.js'
import { escapeHtml } from './page/to-html.js'

// How a person comes to trust the HTTPS status page: download the cluster CA, compare
// its fingerprint with `homecloud ca` on a node they control, import it.

export { CA_PAGE_PATH }
export const CA_FILE_PATH = '/ca.crt'

/** "AB:CD:…" (SHA-256 of the DER), as browsers and `openssl x509 -fingerprint -sha256` show it. */
export function caFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256
}

const STEPS: readonly [string, string][] = [
  [
    'Chrome, Chromium, Edge',
    'Settings → Privacy and security → Security → Manage certificates → Authorities → Import',
  ],
  ['Firefox', 'Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import'],
  ['Android', 'Settings → Security → Encryption & credentials → Install a certificate → CA certificate'],
  [
    'iPhone, iPad',
    'open this file in Safari, install the profile, then Settings → General → About → Certificate Trust Settings',
  ],
  [
    'Linux (Chromium, command line)',
    'certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n homecloud -i homecloud-ca.crt',
  ],
]

export function caPage(pem: string | null, clusterName: string, httpsUrl: string | null): string {
  const body = pem
    ? `<p>The HTTPS status page carries a certificate from this cluster's own certificate authority. To make your browser trust it, import the CA once:</p>
<p><a class="button" href="${CA_FILE_PATH}" download="homecloud-ca.crt">Download the cluster CA</a></p>
<p>SHA-256 fingerprint:<br><code class="fingerprint">${escapeHtml(caFingerprint(pem))}</code></p>
<p>This page came over plain HTTP, so check the fingerprint before you import: on any node, run <code>homecloud ca --state STATE_DIR</code> (or <code>homecloud ca --admin admin.json</code>) and compare. Whoever holds the CA key (the cluster's signers) could impersonate any web site to a browser that trusts it: import it only on devices you own.</p>
<ul>${STEPS.map(([who, how]) => `<li><strong>${escapeHtml(who)}</strong>: ${escapeHtml(how)}</li>`).join('')}</ul>
${httpsUrl ? `<p><a class="button" href="${escapeHtml(httpsUrl)}">Go to the HTTPS page</a></p>` : ''}`
    : '<p>This node holds no certificate yet (it is still joining): open this page on another node.</p>'
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml"><title>homecloud ${escapeHtml(clusterName)}: trust the cluster CA</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{overflow-wrap:anywhere}
.fingerprint{font-size:1.05rem;user-select:all}a{display:inline-block;min-height:1.5rem;padding:.2rem 0}
a.button{padding:.6rem 1rem;border:1px solid #888;border-radius:.4rem;text-decoration:none}li{margin:.4rem 0}</style></head><body>
<main><h1>Trust the cluster CA</h1>${body}<p><a href="/">Back to the status page</a></p></main></body></html>`
}

export function registerCaRoutes(
  app: FastifyInstance,
  deps: {
    caPem(): string | null
    clusterName(): string
    httpsUrl(hostHeader: string | undefined): string | null
  },
): void {
  app.get(CA_PAGE_PATH, async (req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(caPage(deps.caPem(), deps.clusterName(), deps.httpsUrl(req.headers.host))),
  )
  app.get(CA_FILE_PATH, async (_req, reply) => {
    const pem = deps.caPem()
    if (!pem)
      return reply.code(503).send({ error: 'NOT_READY', message: 'this node holds no certificate yet' })
    return reply
      .type('application/x-pem-file')
      .header('content-disposition', 'attachment; filename="homecloud-ca.crt"')
      .send(pem)
  })
}
