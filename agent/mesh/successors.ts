// A netbooted machine keeps its state in RAM, so every boot is a new node: a new key, a new
// node id, the same name (/init derives it from the MAC) and the same MAC in its signed mesh
// record. The rollout follows the machine, not the key: a dead RAM-only member is folded
// into the alive RAM-only member that names the same node and MAC — its successor, the same
// machine booted again — so the node in progress is found again after its reboot, and the
// old id neither waits as "down" nor is upgraded twice (pure).
//
// Trust is untouched: the successor joined by the usual rules (join proof, policy or an
// admin's approval of its own key) and holds its own certificate; nothing of the old
// member's passes to it. Only bookkeeping follows. An alive member is never folded (two
// alive claimants of one MAC: nothing follows either), nor a member with a state disk (its
// id survives a reboot), so a forged MAC gains nothing an admitted node does not have.

export interface MachineClaim {
  id: string
  name: string
  alive: boolean
  startedAtMs: number | null
  /** State in RAM (its mesh record's facts say so): a netbooted machine. */
  ramOnly?: boolean
  /** Its NICs' MACs from its signed mesh record. */
  macs?: readonly string[]
}

/** The members with predecessors folded in: each successor lists the ids it replaces. */
export function foldSuccessors<T extends MachineClaim>(
  nodes: readonly T[],
): (T & { formerIds?: string[] })[] {
  const claims = (n: T) => (n.ramOnly === true ? (n.macs ?? []) : [])
  const formerOf = new Map<string, string[]>()
  const folded = new Set<string>()
  for (const dead of nodes) {
    if (dead.alive || claims(dead).length === 0) continue
    const heirs = nodes.filter(
      (a) =>
        a.alive &&
        a.id !== dead.id &&
        a.name === dead.name &&
        claims(a).some((m) => claims(dead).includes(m)) &&
        (dead.startedAtMs === null || a.startedAtMs === null || a.startedAtMs >= dead.startedAtMs),
    )
    if (heirs.length !== 1) continue
    const heir = heirs[0] as T
    formerOf.set(heir.id, [...(formerOf.get(heir.id) ?? []), dead.id])
    folded.add(dead.id)
  }
  return nodes
    .filter((n) => !folded.has(n.id))
    .map((n) => {
      const formerIds = formerOf.get(n.id)
      return formerIds ? { ...n, formerIds } : n
    })
}
