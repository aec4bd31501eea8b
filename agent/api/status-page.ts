import type { ClusterView } from './cluster-schema.js'

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Everything a peer controls (names, boards) goes through here before it reaches HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

function ago(nowMs: number, thenMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000))
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

/** A server-rendered page, complete without JavaScript (the full status page grows from this). */
export function renderStatusPage(view: ClusterView, nowMs = Date.now()): string {
  const counts = { alive: 0, suspect: 0, dead: 0, pending: 0 }
  for (const m of view.members) counts[m.state]++
  const verdict =
    counts.dead + counts.suspect === 0
      ? 'Healthy'
      : `Degraded: ${counts.dead} dead, ${counts.suspect} suspect of ${view.members.length} nodes`
  const rows = view.members
    .map(
      (
        m,
      ) => `<tr class="${m.state}"><td>${m.self ? '▶ ' : ''}<a href="${escapeHtml(m.url)}">${escapeHtml(m.name)}</a></td>
<td>${escapeHtml(m.board)}</td><td>${escapeHtml(m.arch)}</td><td>${escapeHtml(m.roles.join(', '))}</td>
<td>${m.state}</td><td>${m.self ? 'this node' : ago(nowMs, m.lastSeenMs)}</td><td>${escapeHtml(m.version)}</td>
<td>${escapeHtml(m.storageClass)}</td><td>${escapeHtml(m.addresses.join(' '))}</td></tr>`,
    )
    .join('\n')
  const events = view.events
    .slice(-30)
    .reverse()
    .map((e) => `<li><time>${new Date(e.atMs).toISOString()}</time> ${escapeHtml(e.message)}</li>`)
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>homecloud ${escapeHtml(view.cluster.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem}table{border-collapse:collapse;width:100%}
td,th{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left}.dead{color:#a00}.suspect{color:#a60}
.verdict{font-size:1.3rem;font-weight:600}</style></head><body>
<p class="verdict" id="verdict">${escapeHtml(verdict)}</p>
<p>Cluster ${escapeHtml(view.cluster.name)} (${escapeHtml(view.cluster.id)}), view from the mesh.</p>
<table id="nodes"><thead><tr><th>Node</th><th>Board</th><th>Arch</th><th>Roles</th><th>State</th><th>Last seen</th><th>Version</th><th>Storage</th><th>Addresses</th></tr></thead>
<tbody>${rows}</tbody></table>
<h2>Events</h2><ul id="events">${events}</ul></body></html>
`
}
