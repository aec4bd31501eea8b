// Long-running processes inside a lab namespace. `ip netns exec` execs the command
// (no fork) in iproute2 outside batch mode, so the child's pid is the real process and
// a SIGKILL reaches it, not a wrapper.

import type { Options, ResultPromise } from 'execa'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { parseLabName } from './names.js'

export function execInNetns<O extends Options = Options>(
  netns: string,
  cmd: string,
  args: readonly string[] = [],
  opts?: O,
): ResultPromise<O> {
  if (parseLabName(netns)?.kind !== 'netns') {
    throw new HomecloudError(
      'LAB_INVALID',
      `refusing to exec in namespace ${JSON.stringify(netns)}: not a lab namespace`,
      'use labNames(labIndex, node).netns',
    )
  }
  return execa('ip', ['netns', 'exec', netns, cmd, ...args], opts ?? ({} as O)) as unknown as ResultPromise<O>
}
