/**
 * Lifeguard's local health multiplier: evidence that *this* node is the slow one (probes
 * it sent failed although the members it asked to help did not even answer "no", or it
 * had to refute a suspicion about itself) raises the score; every probe answered in time
 * lowers it. Periods and timeouts are stretched by score + 1, so an overloaded node probes
 * less often and waits longer instead of accusing healthy members.
 */
export class Awareness {
  private score = 0

  constructor(private readonly max: number) {}

  get value(): number {
    return this.score
  }

  apply(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta))
  }

  scale(ms: number): number {
    return ms * (this.score + 1)
  }
}
