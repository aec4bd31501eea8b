import type { Member } from '../mesh/membership.js'

/**
 * Whether a member still holds its names and addresses (nobody else gets a certificate for
 * them). A dead member whose state was in RAM — a netbooted machine — can never come back
 * under its key: its machine boots again as a new member with a new key, the same name
 * (/init derives it from the MAC) and often the same address, and must be able to take
 * them, or every netboot after the first is refused `name-taken`. The newcomer still joins
 * by the usual rules (join proof, policy or an admin's approval of its own key) and gets a
 * certificate of its own: nothing of the dead member's passes to it. A member with a state
 * disk keeps its names while dead (it comes back with the same key), and so does any
 * member not declared dead.
 */
export function holdsItsNames(m: Pick<Member, 'state' | 'signed'>): boolean {
  return !(m.state === 'dead' && m.signed.body.facts.ramOnly === true)
}
