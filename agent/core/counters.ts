/** Named counters exported as Prometheus metrics; labels are fixed at the call site. */
export class Counters {
  private readonly values = new Map<string, number>()

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = counterKey(name, labels)
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.values.get(counterKey(name, labels)) ?? 0
  }

  entries(): [string, number][] {
    return [...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
  }
}

function counterKey(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
  return parts.length ? `${name}{${parts.join(',')}}` : name
}
