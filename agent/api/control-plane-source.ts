import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { KubeNodeView } from '../kube/nodes-view.js'
import { ClusterViewSchema } from './cluster-schema.js'

// The same truth on every node. A voter reads the control plane from its own etcd
// member; any other node asks a voter over the agent API (mutual TLS, 7443) for that
// voter's own etcd view and shows it, saying through whom. Only when no voter answers
// does the page fall back to what the mesh gossips (roles nodes announce), and says so.
// The voter also hands over the Kubernetes Nodes it reads with admin rights. A voter is
// asked every 2 s while someone reads this node's view, every 10 s otherwise.

type ControlPlaneView = z.infer<typeof ClusterViewSchema>['controlPlane']

/** GET /api/v1/control-plane on 7443: a voter's own etcd view (never one it was told). */
export const ControlPlaneAnswer = z.object({
  controlPlane: ClusterViewSchema.shape.controlPlane,
  coordinator: z.string().nullable(),
  kube: z.object({ nodes: z.array(KubeNodeView).max(1024), readAtMs: z.number() }).nullable(),
})
export type ControlPlaneAnswer = z.infer<typeof ControlPlaneAnswer>

export const controlPlaneAnswerBytesMax = 512 * 1024

export interface VoterCandidate {
  id: string
  name: string
  /** https://ADDRESS:7443/ */
  url: string
}

export interface LocalControlPlane {
  controlPlane: ControlPlaneView
  coordinator: string | null
}

export interface ChosenControlPlane extends LocalControlPlane {
  kube: ControlPlaneAnswer['kube']
}

/**
 * Which voter to ask: the one that answered last while it is still a candidate, else
 * the first (by id) after the one that failed last, so a dead voter is skipped at once.
 */
export function pickVoter(
  candidates: readonly VoterCandidate[],
  lastGood: string | null,
  lastFailed: string | null,
): VoterCandidate | null {
  const sorted = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const good = sorted.find((c) => c.id === lastGood)
  if (good && good.id !== lastFailed) return good
  if (lastFailed === null) return sorted[0] ?? null
  return sorted.find((c) => c.id > lastFailed) ?? sorted.find((c) => c.id !== lastFailed) ?? sorted[0] ?? null
}

/** Why an answer is refused; null when it is a voter's own etcd view. */
export function refuseAnswer(a: ControlPlaneAnswer, from: VoterCandidate): string | null {
  if (a.controlPlane.source !== 'etcd') return 'not an etcd view'
  if (a.controlPlane.via) return 'passed on, not its own'
  if (!a.controlPlane.voters.includes(from.id)) return 'the answering node is not among its voters'
  return null
}

export interface ChooseInput {
  local: LocalControlPlane | null
  localKube: ControlPlaneAnswer['kube']
  remote: { answer: ControlPlaneAnswer; from: VoterCandidate } | null
  mesh: LocalControlPlane
}

/** This node's own etcd view, else a voter's recent one (marked `via`), else the mesh's. */
export function chooseControlPlane(i: ChooseInput): ChosenControlPlane {
  if (i.local) return { ...i.local, kube: i.localKube ?? i.remote?.answer.kube ?? null }
  if (i.remote) {
    const { answer, from } = i.remote
    return {
      controlPlane: { ...answer.controlPlane, via: { id: from.id, name: from.name } },
      coordinator: answer.coordinator,
      kube: i.localKube ?? answer.kube,
    }
  }
  return { ...i.mesh, kube: i.localKube }
}

export interface ControlPlaneSourceComponents {
  clock: Clock
  random: Random
  log: Logger
  counters?: Counters
  /** This node's own etcd view when it runs a member that answers; null otherwise. */
  local(): LocalControlPlane | null
  /** The Kubernetes Nodes this node read itself (a voter with admin rights); null otherwise. */
  localKube(): ControlPlaneAnswer['kube']
  /** What the mesh says (roles nodes announce): the fallback. */
  mesh(): LocalControlPlane
  /** Alive etcd voters other than this node. */
  voters(): VoterCandidate[]
  /** GET on a voter's 7443 with mutual TLS, its certificate naming `id` (peer-client.ts). */
  fetch(voter: VoterCandidate, path: string): Promise<unknown>
}

/** While someone reads this node's view: ask a voter this often. */
export const controlPlaneRefreshMs = 2000
/** While nobody reads: this often, so a first reader finds a recent answer. */
export const idleRefreshMs = 10_000
/** Someone read the view within this long. */
export const readerDemandMs = 120_000
/** A voter's answer older than this is not shown as etcd's word any more. */
export const remoteFreshMs = idleRefreshMs + 2000

export class ControlPlaneSource {
  private remote: { answer: ControlPlaneAnswer; from: VoterCandidate; atMono: number } | null = null
  private lastGood: string | null = null
  private lastFailed: string | null = null
  private lastProblem = ''
  private lastAskMono = Number.NEGATIVE_INFINITY
  private readUntilMono = Number.NEGATIVE_INFINITY
  private readonly loop: Controller<'control-plane'>

  constructor(private readonly c: ControlPlaneSourceComponents) {
    this.loop = new Controller<'control-plane'>(
      {
        name: 'control-plane-view',
        keys: () => ['control-plane'],
        resyncMs: controlPlaneRefreshMs,
        sync: () => this.refresh(),
      },
      c,
    )
  }

  start(): void {
    this.loop.start()
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** Someone reads the view: keep it fresh (asked every 2 s) for a while, starting now. */
  touch(): void {
    const idle = this.c.clock.monoMs() >= this.readUntilMono
    this.readUntilMono = this.c.clock.monoMs() + readerDemandMs
    if (idle) this.loop.add('control-plane')
  }

  current(): ChosenControlPlane {
    const r = this.remote
    const fresh = r && this.c.clock.monoMs() - r.atMono <= remoteFreshMs ? r : null
    return chooseControlPlane({
      local: this.c.local(),
      localKube: this.c.localKube(),
      remote: fresh,
      mesh: this.c.mesh(),
    })
  }

  /** Asks one voter, unless this node reads etcd itself. Never throws: a failure tries the next voter. */
  private async refresh(): Promise<void> {
    if (this.c.local()) return
    const now = this.c.clock.monoMs()
    if (now >= this.readUntilMono && now - this.lastAskMono < idleRefreshMs) return
    this.lastAskMono = now
    const voter = pickVoter(this.c.voters(), this.lastGood, this.lastFailed)
    if (!voter) return this.problem('no alive voter to ask: showing the mesh view')
    try {
      const parsed = ControlPlaneAnswer.safeParse(await this.c.fetch(voter, '/api/v1/control-plane'))
      const why = parsed.success
        ? refuseAnswer(parsed.data, voter)
        : `${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`
      if (!parsed.success || why) throw new Error(`answer refused: ${why}`)
      this.remote = { answer: parsed.data, from: voter, atMono: this.c.clock.monoMs() }
      this.lastGood = voter.id
      this.lastFailed = null
      this.lastProblem = ''
    } catch (err) {
      this.lastFailed = voter.id
      this.c.counters?.inc('homecloud_control_plane_view_failed_total', {})
      this.problem(`voter ${voter.name} did not give its etcd view: ${(err as Error).message}`)
    }
  }

  private problem(message: string): void {
    if (message !== this.lastProblem) this.c.log.info(message)
    this.lastProblem = message
  }
}
