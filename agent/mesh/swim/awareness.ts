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
   * The lag its own deadlines on others wait out (capped: past the cap it is a stall), and
   * the wait a missed ack must have outlasted to accuse anyone (see `mayAccuse`).
   */
  lagMs: number
}

/**
 * The decision, pure: `evidence` is Lifeguard's score from how probes went (failed probes
 * with silent helpers, refutations, stalls up; answered probes down), `lagMs` the peak
 * event-loop lag measured lately. A loop late by a whole probe timeout would see acks
 * after their deadline, so each `lagToleranceMs` of lag lifts the score by one: the
 * probes started from then on wait longer than the lag measured (see `mayAccuse`).
 */
export function localHealth(evidence: number, lagMs: number, limits: AwarenessLimits): LocalHealth {
  const top = limits.awarenessMax - 1
  const lagScore = Math.floor(Math.max(0, lagMs) / limits.lagToleranceMs)
  return {
    score: Math.min(top, Math.max(evidence, lagScore)),
    lagMs: Math.min(Math.max(0, lagMs), limits.lagToleranceMs * limits.awarenessMax),
  }
}

/**
 * May an ack missed after waiting `waitedMs` (the probe's stretched timeout) accuse its
 * target? Only if the wait outlasted this node's own lag: then the ack, had it come, was
 * read in time, whatever our loop did meanwhile. A probe started before the lag showed
 * (its timeout unstretched) proves nothing and accuses nobody; the probes after it wait
 * the lag out and accuse again — a loaded node still notices deaths, only more slowly. A
 * lag at the cap (past what the largest stretch covers) silences every accusation.
 */
export function mayAccuse(waitedMs: number, health: LocalHealth): boolean {
  return waitedMs > health.lagMs
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
  private health: LocalHealth = { score: 0, lagMs: 0 }

  constructor(private readonly limits: AwarenessLimits) {
    this.lag = new PeakWindow(limits.lagWindowMs)
  }

  get value(): number {
    return this.health.score
  }

  /** May an ack missed after waiting `waitedMs` accuse anyone now? */
  accuses(waitedMs: number): boolean {
    return mayAccuse(waitedMs, this.health)
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
