import { type Choice, choose, hash32, type LinkLimits, ringOrder } from './choose.js'

/**
 * `choose` kept up to date as members come and go, without recomputing it for every
 * change: a newcomer changes the choice only if it is a nearer ring neighbour or outranks
 * the weakest random pick, and a leaver only if it was chosen. With a thousand members
 * joining at once, that is the difference between O(1) and O(n) per join on every node.
 */
export class LinkChooser {
  private readonly members = new Set<string>()
  private choice: Choice | null = null
  private avoidKey = ''
  private readonly scores = new Map<string, number>()

  constructor(
    private readonly selfId: string,
    private readonly limits: LinkLimits,
  ) {}

  add(id: string): void {
    if (id === this.selfId || this.members.has(id)) return
    this.members.add(id)
    if (this.choice && this.changes(this.choice, id)) this.choice = null
  }

  remove(id: string): void {
    if (!this.members.delete(id)) return
    const c = this.choice
    if (c && (c.full || c.all.includes(id) || this.members.size === this.limits.fullMeshPeersMax))
      this.choice = null
  }

  wanted(avoid: ReadonlySet<string>): string[] {
    const key = [...avoid].sort().join(',')
    if (!this.choice || key !== this.avoidKey) {
      this.avoidKey = key
      this.choice = choose(this.selfId, [...this.members], this.limits, avoid, (p) => this.score(p))
    }
    return this.choice.all
  }

  private changes(c: Choice, id: string): boolean {
    if (c.full) return true
    const farAfter = c.after.at(-1)
    const farBefore = c.before.at(-1)
    if (farAfter === undefined || ringOrder(this.selfId, id, farAfter) < 0) return true
    if (farBefore === undefined || ringOrder(this.selfId, farBefore, id) < 0) return true
    const worst = c.picks.at(-1)
    if (c.picks.length < this.limits.randomPicks || worst === undefined) return true
    const s = this.score(id)
    const w = this.score(worst)
    return s < w || (s === w && id < worst)
  }

  private score(peer: string): number {
    let s = this.scores.get(peer)
    if (s === undefined) {
      if (this.scores.size >= 4096) this.scores.clear()
      s = hash32(`${this.selfId}|${peer}`)
      this.scores.set(peer, s)
    }
    return s
  }
}
