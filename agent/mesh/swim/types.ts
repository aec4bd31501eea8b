// The vocabulary of the SWIM machine. Records are opaque (the mesh's signed node records;
// the simulator's plain objects): the machine reads only their RecordMeta. Node ids
// name peers; the shell maps them to connections.

/** What SWIM reads from a member's record. */
export interface RecordMeta {
  id: string
  /** Bumped on restart and on refuting a suspicion: the only thing that overrules suspect/dead. */
  incarnation: number
  /** Bumped when the record's content changes within one incarnation. */
  version: number
  /** Encoded size, for the gossip byte budgets. */
  bytes: number
}

export type MemberState = 'alive' | 'suspect' | 'dead'

/** A piece of membership news. `from` is the member whose observation a claim is. */
export type Update<R> =
  | { kind: 'alive'; record: R }
  | { kind: 'suspect'; id: string; incarnation: number; from: string }
  | { kind: 'dead'; id: string; incarnation: number; from: string }
  /**
   * "I hold this member's record at this incarnation and version": how joins and record
   * changes spread. Gossiping whole records (~600 bytes) λ·log n times each costs every
   * node n·λ·log n records when many join at once; an announcement costs ~50 bytes, and a
   * node that lacks the record pulls it once (`want`) from whoever announced it.
   */
  | { kind: 'have'; id: string; incarnation: number; version: number }
  /**
   * A member as the sender holds it, in reply to a digest: the record and the state (at
   * `incarnation`). A receiver that knows the member alive takes "dead" as a suspicion
   * (its own evidence says otherwise; the timeout settles it); one that never heard of
   * it takes the state as given.
   */
  | { kind: 'member'; record: R; state: MemberState; incarnation: number }

/** One member's knowledge in a digest: [id, recordIncarnation, version, state, stateIncarnation]. */
export type DigestEntry = [string, number, number, MemberState, number]

export type SwimMessage<R> =
  /** "Are you alive?" `target` lets a receiver that is not the target say so (ids are routing). */
  | { t: 'ping'; seq: number; target: string; gossip: Update<R>[] }
  /** "Yes." `links`: the sender's neighbours, so the prober knows whom to ask next time. */
  | { t: 'ack'; seq: number; links: string[]; gossip: Update<R>[] }
  /** "Please ping `target` for me": the indirect probe. */
  | { t: 'ping-req'; seq: number; target: string; gossip: Update<R>[] }
  /** "I asked, it did not answer in time": proof that the requester's own messages arrive. */
  | { t: 'nack'; seq: number }
  /** Updates without a probe. */
  | { t: 'gossip'; gossip: Update<R>[] }
  /** "Send me these members' records" (after a `have`). */
  | { t: 'want'; ids: string[] }
  /**
   * Anti-entropy: what the sender knows (in pages); the receiver sends back what the
   * sender lacks, and its own digest if `reply`. The first page carries the sender's
   * own record, so a peer that never heard of it learns it at once.
   */
  | { t: 'digest'; entries: DigestEntry[]; reply: boolean; last: boolean; gossip: Update<R>[] }

export type MemberEventKind = 'joined' | 'suspect' | 'refuted' | 'dead' | 'rejoined' | 'updated'

export interface MemberEvent {
  kind: MemberEventKind
  id: string
  incarnation: number
}

export type SwimEffect<R> =
  | { kind: 'send'; to: string; msg: SwimMessage<R> }
  | { kind: 'event'; event: MemberEvent }
  /**
   * This node was suspected or declared dead at or above its incarnation: the shell signs
   * its record again at `incarnation` (persisting it) and calls announce().
   */
  | { kind: 'refute'; incarnation: number }

export interface SwimMember<R> {
  id: string
  record: R
  /** The incarnation and version of `record` itself. */
  recordIncarnation: number
  version: number
  /** The incarnation the state is about: the record's, or a higher one a claim named. */
  incarnation: number
  state: MemberState
  /** Monotonic time of the last state change. */
  stateSinceMono: number
  /** Records at or below this incarnation cannot bring a dead member back. */
  deadIncarnation: number | null
}
