import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Counters } from '../../core/counters.js'
import { HomecloudError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { escapeHtml } from '../page/to-html.js'
import type { Session } from './sessions.js'

// Recovery on the HTTPS status page of a surviving voter (session + CSRF, like approve):
// GET /recover shows the newest intact snapshot on every node that holds one; the
// person picks one and confirms; POST /actions/recover has the agent stop its own etcd,
// restore it and start it again (controlplane/recovery.ts does the work and refuses
// while etcd still has quorum).

export interface RecoverChoice {
  node: string
  nodeName: string
  name: string
  manifest: { revision: number; takenAtMs: number; sizeBytes: number; sha256: string } | null
  problem: string | null
}

export interface RecoveryActions {
  list(): Promise<RecoverChoice[]>
  run(node: string, name: string): Promise<{ epoch: number; revision: number }>
}

const RecoverForm = z.object({
  choice: z.string().regex(/^[0-9a-f]{1,64}\/snap-\d{13}-r\d{1,16}$/, 'pick a snapshot'),
  confirm: z.literal('yes', { message: 'tick the box to confirm' }),
  csrf: z.string().min(1).max(128),
})

export function registerRecoverPage(
  app: FastifyInstance,
  d: {
    log: Logger
    counters: Counters
    recovery: () => RecoveryActions | null
    sessionOf(req: FastifyRequest): Session | undefined
    csrfMatches(s: Session, token: string): boolean
  },
): void {
  const bad = (reply: FastifyReply, code: number, error: string, message: string) => {
    d.counters.inc('homecloud_http_rejected_total', { reason: error.toLowerCase() })
    return reply.code(code).send({ error, message })
  }
  app.get('/recover', async (req, reply) => {
    const s = d.sessionOf(req)
    if (!s) return reply.code(303).header('location', '/login').send()
    const r = d.recovery()
    const choices = r ? await r.list() : []
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page(choices, s.csrf))
  })
  app.post('/actions/recover', async (req, reply) => {
    const s = d.sessionOf(req)
    if (!s) return bad(reply, 401, 'UNAUTHENTICATED', 'log in first (/login)')
    const f = RecoverForm.safeParse(req.body)
    if (!f.success) return bad(reply, 400, 'BAD_REQUEST', f.error.issues[0]?.message ?? 'bad form')
    if (!d.csrfMatches(s, f.data.csrf))
      return bad(reply, 403, 'CSRF', 'the form token does not match: reload the page')
    const r = d.recovery()
    if (!r) return bad(reply, 409, 'RECOVER_REFUSED', 'this node runs no control plane')
    const [node, name] = f.data.choice.split('/') as [string, string]
    try {
      const out = await r.run(node, name)
      d.log.warn(
        { node, snapshot: name, epoch: out.epoch, by: 'status page' },
        'etcd recovered from a snapshot',
      )
      if ((req.headers.accept ?? '').includes('application/json'))
        return { recovered: { node, name, ...out } }
      return reply.code(303).header('location', '/').send()
    } catch (err) {
      if (!(err instanceof HomecloudError)) throw err
      return bad(reply, err.code === 'RECOVER_REFUSED' ? 409 : 500, err.code, err.message)
    }
  })
}

function page(choices: RecoverChoice[], csrf: string): string {
  const rows = choices
    .map((c, i) => {
      const who = escapeHtml(c.nodeName)
      if (!c.manifest) return `<li>${who}: ${escapeHtml(c.problem ?? 'no snapshot')}</li>`
      const m = c.manifest
      const value = escapeHtml(`${c.node}/${c.name}`)
      return `<li><label><input type="radio" name="choice" value="${value}"${i === 0 ? ' checked' : ''}> ${who}: revision ${m.revision}, taken ${new Date(m.takenAtMs).toISOString()}, ${Math.round(m.sizeBytes / 1024)} KiB</label></li>`
    })
    .join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>homecloud: recover etcd</title><style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}li{margin:.5rem 0}button{font-size:1rem;padding:.5rem 1rem;min-height:2.75rem}</style></head><body><main>
<h1>Recover etcd from a snapshot</h1>
<p>Do this only when quorum is lost for good (most voters are gone and will not come back soon). This node stops its etcd, restores the snapshot you pick as a new one-member cluster, and starts again; the others follow by themselves, and voters of the lost cluster that come back later move their old data aside.</p>
<form method="post" action="/actions/recover"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<ul>${rows || '<li>No node offers a snapshot.</li>'}</ul>
<p><label><input type="checkbox" name="confirm" value="yes"> I understand that writes after the snapshot was taken are lost</label></p>
<button type="submit">Recover from this snapshot</button></form><p><a href="/">Back to the status page</a></p></main></body></html>`
}
