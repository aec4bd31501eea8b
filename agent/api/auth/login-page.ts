import { escapeHtml } from '../page/to-html.js'

/** The login form (HTTPS only: the plain-HTTP server never shows it, see plain-http.ts). */
export function loginPage(message: string | null): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml"><title>homecloud: log in</title><style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
input,button{font-size:1rem;padding:.5rem;width:100%;min-height:2.75rem;box-sizing:border-box;margin:.3rem 0}.error{color:#b00}
a{display:inline-block;min-height:1.5rem;padding:.25rem 0}</style></head><body>
<main><h1>Log in</h1><p>Actions (approve, and later drain) need the cluster password set at <code>homecloud init</code>.</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/login"><label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button></form><p><a href="/">Back to the status page</a></p></main></body></html>`
}
