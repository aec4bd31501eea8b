import type { ServerResponse } from 'node:http'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import type { ClusterView } from './cluster-schema.js'

type ClusterEvent = ClusterView['events'][number]

export interface SseLimits {
  /** Viewers beyond this get 503: each holds a socket and a write buffer. */
  clientsMax: number
  /** How often the view is rebuilt and compared; a change is pushed within this. */
  pollMs: number
  /** A comment line this often keeps proxies and NATs from dropping a quiet stream. */
  heartbeatMs: number
  /** A client that lets this much pile up unread is dropped (it reconnects when it can). */
  bufferedBytesMax: number
}

export const DEFAULT_SSE_LIMITS: SseLimits = Object.freeze({
  clientsMax: 100,
  pollMs: 1_000,
  heartbeatMs: 15_000,
  bufferedBytesMax: 1024 * 1024,
})

/**
 * What a viewer would see change, without the fields that move every heartbeat
 * (lastSeenMs) or that arrive as their own `event` messages (events).
 */
export function viewFingerprint(view: ClusterView): string {
  return JSON.stringify([
    view.cluster,
    view.self,
    view.coordinator,
    view.controlPlane,
    view.members.map((m) => {
      const { lastSeenMs: _seen, ...rest } = m
      return rest
    }),
  ])
}

export function eventKey(e: ClusterEvent): string {
  return JSON.stringify([e.atMs, e.kind, e.id ?? null, e.message])
}

/**
 * The events after the last one already sent. `events` is the log's recent window, newest
 * last; when the last sent one has scrolled out of it, the whole window is new.
 */
export function eventsAfter(events: readonly ClusterEvent[], lastKey: string | null): ClusterEvent[] {
  if (lastKey === null) return [...events]
  for (let i = events.length - 1; i >= 0; i--)
    if (eventKey(events[i]!) === lastKey) return events.slice(i + 1)
  return [...events]
}

export function sseFrame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so one data: line always suffices.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

export interface SseHubDeps {
  clusterView: () => ClusterView
  clock: Clock
  log: Logger
  counters: Counters
  random?: Random
}

/**
 * GET /api/v1/events: every viewer gets the whole view on connect, then a fresh view
 * when it changes and each new timeline event. One poll serves all viewers, and it
 * runs only while someone is watching: a controller with two keys, 'poll' and
 * 'heartbeat', each re-queued after its period while there are viewers.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>()
  private readonly loops: Controller<'poll' | 'heartbeat'>
  private fingerprint: string | null = null
  private lastEvent: string | null = null

  constructor(
    private readonly deps: SseHubDeps,
    private readonly limits: SseLimits = DEFAULT_SSE_LIMITS,
  ) {
    this.loops = new Controller<'poll' | 'heartbeat'>(
      {
        name: 'sse',
        // A view that fails to build is tried again at the poll period (logged once).
        backoff: { initialDelayMs: limits.pollMs, factor: 1, delayMsMax: limits.pollMs, jitter: 0 },
        sync: (key) => {
          if (this.clients.size === 0) return undefined
          if (key === 'heartbeat') {
            this.broadcast(': heartbeat\n\n')
            return { requeueAfterMs: limits.heartbeatMs }
          }
          this.push(this.deps.clusterView())
          return { requeueAfterMs: limits.pollMs }
        },
      },
      { clock: deps.clock, random: deps.random ?? systemRandom(), log: deps.log, counters: deps.counters },
    ).start()
  }

  get size(): number {
    return this.clients.size
  }

  get full(): boolean {
    return this.clients.size >= this.limits.clientsMax
  }

  /** Takes over a response whose headers are already written; false when the hub is full. */
  add(res: ServerResponse): boolean {
    if (this.full) return false
    const view = this.poll() ?? this.safeView()
    if (!view) return false
    this.clients.add(res)
    res.on('close', () => this.remove(res))
    this.send(res, `retry: 2000\n${sseFrame('cluster', view)}`)
    // Already waiting (another viewer): the earlier wait stands.
    this.loops.addAfter('poll', this.limits.pollMs)
    this.loops.addAfter('heartbeat', this.limits.heartbeatMs)
    return true
  }

  /** Ends every stream and the polling for good (the server is closing). */
  closeAll(): Promise<void> {
    for (const res of this.clients) res.end()
    this.clients.clear()
    return this.loops.stop()
  }

  /** Pushes what changed since the last poll to everyone; returns the view it looked at. */
  private poll(): ClusterView | null {
    const view = this.safeView()
    return view && this.push(view)
  }

  private push(view: ClusterView): ClusterView {
    const fresh = eventsAfter(view.events, this.lastEvent)
    const last = view.events.at(-1)
    this.lastEvent = last ? eventKey(last) : this.lastEvent
    const fp = viewFingerprint(view)
    const changed = fp !== this.fingerprint
    this.fingerprint = fp
    if (this.clients.size === 0) return view
    // Events first: a `cluster` message replaces the viewer's timeline with view.events anyway.
    for (const e of fresh) this.broadcast(sseFrame('event', e))
    if (changed) this.broadcast(sseFrame('cluster', view))
    return view
  }

  private safeView(): ClusterView | null {
    try {
      return this.deps.clusterView()
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'cluster view failed for live updates')
      return null
    }
  }

  private broadcast(frame: string): void {
    for (const res of this.clients) this.send(res, frame)
  }

  private send(res: ServerResponse, frame: string): void {
    if (res.writableLength > this.limits.bufferedBytesMax) {
      this.deps.counters.inc('homecloud_http_sse_dropped_total', { reason: 'slow-reader' })
      res.destroy()
      this.remove(res)
      return
    }
    res.write(frame)
  }

  private remove(res: ServerResponse): void {
    // With no viewer left, the next poll and heartbeat find none and stop re-queueing.
    this.clients.delete(res)
  }
}
