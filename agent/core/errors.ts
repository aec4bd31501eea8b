// Operating errors carry a stable code from one catalogue (docs/errors.md lists
// them); assertions are for bugs and simply throw.

export const ERROR_CODES = {
  CONFIG_INVALID: 'the configuration file or flags failed validation',
  STATE_DIR: 'the state directory cannot be used',
  IDENTITY_INVALID: 'the node identity key is unreadable or malformed',
  MESSAGE_MALFORMED: 'a peer message failed its schema',
  MESSAGE_OVERSIZED: 'a peer message exceeded the size limit',
  MESSAGE_BAD_SIGNATURE: 'a peer message signature did not verify',
  MESSAGE_REPLAYED: 'a peer message was older than one already accepted',
  MESSAGE_OTHER_CLUSTER: 'a peer message belongs to another cluster',
  LAB_INVALID: 'a lab command was given something it cannot do',
  LAB_NOT_FOUND: 'no lab exists in that directory',
  NETNS_FAILED: 'creating or removing a network namespace failed',
  API_UNREACHABLE: 'the agent API could not be reached',
  PROFILE_UNKNOWN: 'no board profile has that name',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export class HomecloudError extends Error {
  readonly code: ErrorCode
  /** What the user should do next; printed by the CLI under the message. */
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HomecloudError'
    this.code = code
    this.hint = hint
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}
