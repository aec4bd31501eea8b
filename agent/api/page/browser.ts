// Runs in the browser, served as /assets/status.js (an ES module; the CSP forbids inline
// scripts). It keeps the server-rendered page live: the same pure section builders the
// server uses, turned into DOM with text nodes only (never innerHTML).
import type { ClusterView } from '../cluster-schema.js'
import { pageSections, pageTitle } from './body.js'
import { type DomDocument, type DomElement, toDom } from './to-dom.js'

interface MessageLike {
  readonly data: string
}
interface EventSourceLike {
  readonly readyState: number
  onopen: (() => void) | null
  onerror: (() => void) | null
  addEventListener(type: string, fn: (e: MessageLike) => void): void
  close(): void
}
declare const document: DomDocument & {
  title: string
  querySelector(selector: string): { getAttribute(name: string): string | null } | null
  getElementById(
    id: string,
  ): (DomElement & { hidden: boolean; className: string; textContent: string }) | null
}
declare const EventSource: { new (url: string): EventSourceLike; readonly CLOSED: number }

const EVENTS_URL = '/api/v1/events'
/** After the server closes the stream for good (e.g. 503: too many viewers). */
const RETRY_MS = 10_000
/** Re-render this often so "since … (2 min ago)" keeps counting between updates. */
const TICK_MS = 1_000
const EVENTS_MAX = 100

let view: ClusterView | null = null
/** Server clock minus ours: ages are measured on the node's clock, not the reader's. */
let skewMs = 0
const shown = new Map<string, string>()

function setLive(text: string, on: boolean): void {
  const el = document.getElementById('live')
  if (!el) return
  el.hidden = false
  el.className = `live ${on ? 'live-on' : 'live-off'}`
  el.textContent = text
}

function render(): void {
  const main = document.getElementById('page')
  if (!view || !main) return
  const now = Date.now() + skewMs
  document.title = pageTitle(view, now)
  const csrf = document.querySelector('meta[name="homecloud-csrf"]')?.getAttribute('content') ?? null
  const login = document.querySelector('meta[name="homecloud-login"]')?.getAttribute('content')
  const sections = pageSections(view, now, {
    csrf,
    loginUrl: login === undefined ? undefined : login || null,
  })
  const ids = sections.map((s) => s.attrs.id ?? '')
  if (ids.join() !== [...shown.keys()].join() || ids.some((id) => !document.getElementById(id))) {
    shown.clear()
    main.replaceChildren(...sections.map((s) => toDom(s, document)))
    for (const s of sections) shown.set(s.attrs.id ?? '', JSON.stringify(s))
    return
  }
  // Only sections whose content changed are replaced, so a focused button survives ticks.
  for (const s of sections) {
    const id = s.attrs.id ?? ''
    const json = JSON.stringify(s)
    if (shown.get(id) === json) continue
    document.getElementById(id)?.replaceWith(toDom(s, document))
    shown.set(id, json)
  }
}

function eventKey(e: ClusterView['events'][number]): string {
  return `${e.atMs}|${e.kind}|${e.id ?? ''}|${e.message}`
}

function connect(): void {
  const source = new EventSource(EVENTS_URL)
  source.onopen = () => setLive('live', true)
  source.addEventListener('cluster', (e) => {
    const next = JSON.parse(e.data) as ClusterView
    const self = next.members.find((m) => m.self)
    if (self) skewMs = self.lastSeenMs - Date.now()
    view = next
    setLive('live', true)
    render()
  })
  source.addEventListener('event', (e) => {
    if (!view) return
    const ev = JSON.parse(e.data) as ClusterView['events'][number]
    if (view.events.some((x) => eventKey(x) === eventKey(ev))) return
    view.events.push(ev)
    if (view.events.length > EVENTS_MAX) view.events.splice(0, view.events.length - EVENTS_MAX)
    render()
  })
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      source.close()
      setLive('not live: retrying in 10 s', false)
      setTimeout(connect, RETRY_MS)
    } else {
      // EventSource reconnects by itself; the page keeps showing the last view it had.
      setLive('connection lost: reconnecting…', false)
    }
  }
}

connect()
setInterval(render, TICK_MS)
