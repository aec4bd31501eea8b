/** What the local health score is made of and where its limits sit (SwimConfig's knobs). */
export interface AwarenessLimits {
  /** The score runs 0..awarenessMax-1; periods and timeouts scale by score + 1. */
  awarenessMax: number
  /** Event-loop lag below this is noise; each multiple of it adds one to the score. */
  lagToleranceMs: number
  /** A lag measured counts for this long (the peak over the window). */
  lagWindowMs: number
}

/** How this node may judge others right now. */
export interface LocalHealth {
  /** Periods and timeouts are stretched by score + 1. */
  score: number
  /**
   * May a missed ack make a suspect (or a confirmation) of someone else? Not while this
   * node's own loop runs late: the ack may be sitting in its own socket, unread.
   */
  accuses: boolean
  /** The lag its own deadlines on others wait out (capped: past the cap it is a stall). */
  lagMs: number
}

/**
 * The decision, pure: `evidence` is Lifeguard's score from how probes went (failed probes
 * with silent helpers, refutations, stalls up; answered probes down), `lagMs` the peak
 * event-loop lag measured lately. A loop late by a whole probe timeout would see acks
 * after their deadline, so each `lagToleranceMs` of lag lifts the score by one — the
 * stretched timeout then always exceeds the lag measured — and a node that late accuses
 * nobody (its failed probes count against itself instead).
 */
export function localHealth(evidence: number, lagMs: number, limits: AwarenessLimits): LocalHealth {
  const top = limits.awarenessMax - 1
  const lagScore = Math.floor(Math.max(0, lagMs) / limits.lagToleranceMs)
  return {
    score: Math.min(top, Math.max(evidence, lagScore)),
    accuses: lagScore === 0,
    lagMs: Math.min(Math.max(0, lagMs), limits.lagToleranceMs * limits.awarenessMax),
  }
}

/**
 * Lifeguard's local health multiplier: evidence that *this* node is the slow one (probes
 * it sent failed although the members it asked to help did not even answer "no", it had
 * to refute a suspicion about itself, or its own timers fired late) raises the score;
 * every probe answered in time lowers it. Periods and timeouts are stretched by score + 1,
 * so an overloaded node probes less often and waits longer instead of accusing healthy
 * members. The shell measures lag (how late its timer fired) and feeds it here.
 */
export class Awareness {
  private evidence = 0
  private readonly lag: PeakWindow
  private health: LocalHealth = { score: 0, accuses: true, lagMs: 0 }

  constructor(private readonly limits: AwarenessLimits) {
    this.lag = new PeakWindow(limits.lagWindowMs)
  }

  get value(): number {
    return this.health.score
  }

  /** May this node's missed acks accuse anyone now? */
  get accuses(): boolean {
    return this.health.accuses
  }

  /** The lag this node's deadlines on others wait out. */
  get lagMs(): number {
    return this.health.lagMs
  }

  apply(delta: number): void {
    this.evidence = Math.min(this.limits.awarenessMax - 1, Math.max(0, this.evidence + delta))
    this.update()
  }

  /** The event loop ran `lagMs` late at `nowMono`. */
  observeLag(lagMs: number, nowMono: number): void {
    this.lag.observe(lagMs, nowMono)
    this.update()
  }

  /** Time moved (every entry point): a lag older than the window stops counting. */
  at(nowMono: number): void {
    this.lag.at(nowMono)
    this.update()
  }

  scale(ms: number): number {
    return ms * (this.health.score + 1)
  }

  private update(): void {
    this.health = localHealth(this.evidence, this.lag.peak, this.limits)
  }
}

/**
 * The largest sample of the last `windowMs`, in O(1): two buckets of half the window each,
 * so a sample counts for between half the window and the whole of it.
 */
export class PeakWindow {
  private cur = 0
  private prev = 0
  private curStart = Number.NEGATIVE_INFINITY

  constructor(private readonly windowMs: number) {}

  get peak(): number {
    return Math.max(this.cur, this.prev)
  }

  observe(value: number, nowMono: number): void {
    this.at(nowMono)
    this.cur = Math.max(this.cur, value)
  }

  at(nowMono: number): void {
    const age = nowMono - this.curStart
    if (age < this.windowMs / 2) return
    this.prev = age < this.windowMs ? this.cur : 0
    this.cur = 0
    this.curStart = nowMono
  }
}
