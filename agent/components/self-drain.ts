import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerClient } from '../api/peer-client.js'
import { sleep } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import { writeFileAtomic } from '../core/files.js'
import type { Mesh } from '../mesh/mesh.js'
import type { DrainAnswer } from './drain-routes.js'
import type { NodeBase } from './node.js'
import { meshNodes, tlsUrl } from './rollout-deps.js'

// A node shut down on purpose (SIGTERM from the init system) drains itself first, within
// a bounded time, through a voter's POST /api/v1/drain (its own certificate may drain
// only itself), then leaves. It remembers that it did (a file in its state directory) and,
// back again, undrains itself — only then, so a node drained by an admin or a rollout
// stays as they left it. `homecloud shutdown` (shutdown-routes.ts) takes the same path.
// A reboot the rollout asked for is not a shutdown: no drain.

export const SHUTDOWN_DRAIN_FILE = 'drained-for-shutdown'
const drainAnswerBytesMax = 64 * 1024
/** How long a refused shutdown drain waits before asking again. */
const shutdownRetryMs = 2000

/** How a shutdown drain ended: the voter's outcome, or not drained (and why) when time ran out. */
export type ShutdownDrain = { outcome: DrainAnswer['outcome'] } | { outcome: 'not-drained'; why: string }

export class SelfDrain {
  private readonly ctl: Controller
  private readonly marker: string
  private shutdownDrain: Promise<ShutdownDrain> | null = null

  constructor(
    private readonly n: NodeBase,
    private readonly mesh: Mesh,
    private readonly peers: PeerClient,
  ) {
    this.marker = join(n.stateDir, SHUTDOWN_DRAIN_FILE)
    // Back after a shutdown drain: undrain, again and again until a voter does it (the
    // lock's preconditions refuse while this node's Node is not Ready yet).
    this.ctl = new Controller(
      {
        name: 'self-undrain',
        keys: () => (existsSync(this.marker) ? ['undrain'] : []),
        resyncMs: 5000,
        backoff: { initialDelayMs: 2000, factor: 2, delayMsMax: 30_000 },
        sync: async () => {
          const a = await this.ask(true, 30_000)
          this.n.log.info({ outcome: a.outcome }, 'back after a shutdown drain: undrained')
          await rm(this.marker, { force: true })
        },
      },
      { clock: n.clock, random: n.random, log: n.log, counters: n.counters },
    )
  }

  start(): void {
    this.ctl.start()
  }

  stop(): Promise<void> {
    return this.ctl.stop()
  }

  /**
   * Drains this node before it stops; never throws, never takes longer than `timeoutMs` +
   * a margin. A second call while one runs (SIGTERM during `homecloud shutdown`) or after
   * it is the same drain, not another one.
   */
  beforeShutdown(timeoutMs: number, progress: (line: string) => void = () => {}): Promise<ShutdownDrain> {
    this.shutdownDrain ??= this.drainForShutdown(timeoutMs, progress)
    return this.shutdownDrain
  }

  private async drainForShutdown(
    timeoutMs: number,
    progress: (line: string) => void,
  ): Promise<ShutdownDrain> {
    const name = this.n.name
    const say = (line: string, fields: Record<string, unknown> = {}, warn = false) => {
      progress(line)
      this.n.log[warn ? 'warn' : 'info'](fields, line)
    }
    say(`shutting down: draining ${name} first (up to ${Math.round(timeoutMs / 1000)} s)`, { timeoutMs })
    const deadline = this.n.clock.monoMs() + timeoutMs
    // No undrain from now on (it would undo this drain while the agent is still stopping).
    await this.ctl.stop()
    // Remembered before asking: a drain that runs out of time leaves the node cordoned by
    // homecloud, and back again it must be undrained all the same (undrain touches only
    // what homecloud cordoned). A node an admin had drained already stays theirs.
    await writeFileAtomic(this.marker, `${this.n.clock.nowMs()}\n`, 0o600).catch((err: Error) =>
      say(`cannot remember the shutdown drain (${err.message}): undrain ${name} by hand once back`, {}, true),
    )
    // A refusal (the lock is held by a rollout or a person, a Node is NotReady) may pass:
    // ask again until the time is up, then leave anyway.
    for (;;) {
      const left = deadline - this.n.clock.monoMs()
      try {
        const a = await this.ask(false, Math.max(1000, Math.floor(left)))
        if (a.outcome === 'already-drained') await rm(this.marker, { force: true })
        for (const l of a.lines) progress(l)
        say(`shutdown drain of ${name}: ${a.outcome}`, { outcome: a.outcome, evicted: a.evicted })
        return { outcome: a.outcome }
      } catch (err) {
        const why = (err as Error).message
        const refused = (err as { status?: number }).status === 409
        // The time left now: a drain that ran out of it (DRAIN_TIMEOUT) took all of it.
        if (!refused || deadline - this.n.clock.monoMs() < shutdownRetryMs * 2) {
          say(`shutdown drain of ${name} did not finish (${why}); leaving anyway`, { err: why }, true)
          return { outcome: 'not-drained', why }
        }
        say(`shutdown drain of ${name} refused for now (${why}); asking again`, { err: why })
        await sleep(this.n.clock, shutdownRetryMs)
      }
    }
  }

  /** POST /api/v1/drain to the voters in turn (this node first when it is one). */
  private async ask(undrain: boolean, timeoutMs: number): Promise<DrainAnswer> {
    const self = this.mesh.peers.self().id
    const voters = meshNodes(this.mesh)
      .filter((m) => m.voter && m.alive && m.address)
      .sort((a, b) => Number(b.id === self) - Number(a.id === self))
    let last: Error = new Error('no voter is reachable')
    for (const v of voters) {
      try {
        return (await this.peers.post({
          url: `${tlsUrl(v)}/api/v1/drain`,
          nodeId: v.id,
          bodyBytesMax: drainAnswerBytesMax,
          timeoutMs: timeoutMs + 10_000,
          what: 'drain',
          body: JSON.stringify({
            node: this.n.name,
            undrain,
            timeoutMs,
            reason: undrain ? 'back' : 'shutdown',
          }),
        })) as DrainAnswer
      } catch (err) {
        last = err as Error
        // A refusal from a voter that answered (the lock is held, a drain timed out) is the answer.
        if ((err as { status?: number }).status === 409) throw err
      }
    }
    throw last
  }
}
