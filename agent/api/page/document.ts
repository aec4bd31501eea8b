import type { ClusterView } from '../cluster-schema.js'
import { pageSections, pageTitle } from './body.js'
import { ICON_PATH } from './icon.js'
import { CA_PAGE_PATH, LOGIN_PATH, type PageAuth } from './pending.js'
import { PAGE_CSS } from './style.js'
import { escapeHtml, toHtml } from './to-html.js'

/** Where the browser script is served; it only enhances a page that is complete without it. */
export const STATUS_SCRIPT_PATH = '/assets/status.js'
/** Without JavaScript the page reloads itself this often instead of listening for events. */
export const NOSCRIPT_REFRESH_S = 10

/**
 * The whole status page as HTML: a pure function of the view and the time, complete
 * without JavaScript. Every string a peer controls reaches the HTML through toHtml.
 */
export function renderStatusPage(view: ClusterView, nowMs: number, auth: PageAuth = { csrf: null }): string {
  const main = pageSections(view, nowMs, auth).map(toHtml).join('\n')
  // The browser script reads the token from here to put it into the forms it re-renders.
  const csrfMeta = auth.csrf ? `<meta name="homecloud-csrf" content="${escapeHtml(auth.csrf)}">\n` : ''
  const loginUrl = auth.loginUrl === undefined ? LOGIN_PATH : auth.loginUrl
  // The browser script re-renders the login links from here ('' = no HTTPS page yet).
  const loginMeta = `<meta name="homecloud-login" content="${escapeHtml(loginUrl ?? '')}">\n`
  const account = auth.csrf
    ? `<form method="post" action="/logout" class="account"><input type="hidden" name="csrf" value="${escapeHtml(auth.csrf)}"><button type="submit">Log out</button></form>`
    : `${loginUrl ? `<a class="account" href="${escapeHtml(loginUrl)}">Log in</a>` : ''}${
        loginUrl === LOGIN_PATH ? '' : `<a class="account" href="${CA_PAGE_PATH}">Trust the cluster CA</a>`
      }`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
${csrfMeta}${loginMeta}<link rel="icon" href="${ICON_PATH}" type="image/svg+xml">
<noscript><meta http-equiv="refresh" content="${NOSCRIPT_REFRESH_S}"></noscript>
<title>${escapeHtml(pageTitle(view, nowMs))}</title>
<style>${PAGE_CSS}</style>
<script type="module" src="${STATUS_SCRIPT_PATH}"></script>
</head><body>
<header class="top"><span class="brand">homecloud</span><nav class="account-links" aria-label="Account">${account}</nav><span id="live" class="live" hidden></span><noscript><span class="live">reloads every ${NOSCRIPT_REFRESH_S} s</span></noscript></header>
<main id="page">
${main}
</main>
<footer>JSON: <a href="/api/v1/cluster">/api/v1/cluster</a> · live events: <a href="/api/v1/events">/api/v1/events</a> · <a href="/metrics">/metrics</a></footer>
</body></html>
`
}
