import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { TlsGuards } from '../api/tls-server.js'
import { sleep } from '../core/clock.js'
import type { NodeBase } from './node.js'
import type { SelfDrain, ShutdownDrain } from './self-drain.js'
import { type PowerOff, shutdownPlan } from './shutdown-plan.js'

// `homecloud shutdown`: POST /api/v1/shutdown on the node's own 7443 with the admin
// certificate. The node drains itself through the same path as a SIGTERM (SelfDrain: a
// voter's /api/v1/drain under the cluster lock), then its agent stops (and the machine
// powers off when asked). GET shows the progress; one shutdown at a time.

export const ShutdownBody = z
  .object({
    /** How long the drain may take before the node stops anyway (default shutdownDrain.timeoutMs). */
    timeoutMs: z.number().int().min(1000).max(600_000).optional(),
    poweroff: z.boolean().default(false),
  })
  .strict()

export interface ShutdownView {
  node: string
  phase: 'running' | 'draining' | 'stopping'
  poweroff: boolean
  lines: string[]
  drain: ShutdownDrain | null
}

/** What the agent's process does once the node drained. */
export interface StopRequest {
  powerOff: PowerOff | null
}

const linesMax = 200
/** After the drain, how long the agent waits for the admin's CLI to read the outcome before its API goes away. */
const finalReadMsMax = 3000

export class ShutdownOnRequest {
  private view: ShutdownView
  private resolveStop: (r: StopRequest) => void = () => {}
  private finalRead: () => void = () => {}
  /** Resolves when an admin's shutdown drained the node: the agent stops then. */
  readonly stopRequested: Promise<StopRequest>

  constructor(
    private readonly n: NodeBase,
    private readonly selfDrain: SelfDrain | null,
    private readonly systemd: boolean,
  ) {
    this.view = { node: n.name, phase: 'running', poweroff: false, lines: [], drain: null }
    this.stopRequested = new Promise((resolve) => {
      this.resolveStop = resolve
    })
  }

  register(app: FastifyInstance, g: TlsGuards): void {
    app.get('/api/v1/shutdown', { preHandler: [g.adminOnly] }, async () => {
      if (this.view.phase === 'stopping') this.finalRead()
      return this.view
    })
    app.post('/api/v1/shutdown', { preHandler: [g.adminOnly] }, async (req, reply) => {
      const body = ShutdownBody.safeParse(req.body ?? {})
      if (!body.success)
        return reply.code(400).send({ error: 'BAD_REQUEST', message: body.error.issues[0]?.message })
      return this.begin(reply, body.data)
    })
  }

  private begin(reply: FastifyReply, b: z.infer<typeof ShutdownBody>) {
    const name = this.n.name
    if (this.view.phase !== 'running')
      return reply.code(409).send({
        error: 'SHUTDOWN_IN_PROGRESS',
        message: `${name} is already shutting down (${this.view.phase})`,
        hint: 'wait for it: `homecloud shutdown` shows its progress; the node stops on its own',
      })
    if (!this.selfDrain)
      return reply.code(409).send({
        error: 'SHUTDOWN_REFUSED',
        message: `${name} does not run Kubernetes: there is nothing to drain`,
        hint: 'stop its agent where it runs (systemctl stop homecloud), or power the machine off',
      })
    const plan = shutdownPlan({
      name,
      backend: this.n.config.slots.backend,
      systemd: this.systemd,
      poweroff: b.poweroff,
    })
    if ('refused' in plan)
      return reply.code(409).send({ error: 'SHUTDOWN_REFUSED', message: plan.refused, hint: plan.hint })
    this.view = { ...this.view, phase: 'draining', poweroff: b.poweroff }
    void this.run(this.selfDrain, b.timeoutMs ?? this.n.config.shutdownDrain.timeoutMs, plan.powerOff)
    return reply.code(202).send(this.view)
  }

  private async run(selfDrain: SelfDrain, timeoutMs: number, powerOff: PowerOff | null): Promise<void> {
    const push = (l: string) => {
      if (this.view.lines.length < linesMax) this.view.lines.push(l)
    }
    const drain = await selfDrain.beforeShutdown(timeoutMs, push)
    push(`stopping the agent of ${this.n.name}${powerOff ? ', then powering the machine off' : ''}`)
    const read = new Promise<void>((resolve) => {
      this.finalRead = resolve
    })
    this.view = { ...this.view, phase: 'stopping', drain }
    await Promise.race([read, sleep(this.n.clock, finalReadMsMax)])
    this.resolveStop({ powerOff })
  }
}
