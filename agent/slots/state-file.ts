import { writeFileAtomic } from '../core/files.js'
import { readJsonFile } from '../core/json-file.js'
import { BootState } from './types.js'

// A BootState kept in a file (the lab's firmware state; any backend whose firmware
// reads a file). Written atomically and fsync'd: a power cut leaves the old or the new
// state, never half of one, so the next boot always has a decision to make.

export async function readBootStateFile(path: string): Promise<BootState | null> {
  return readJsonFile(path, BootState, {
    code: 'SLOT_FAILED',
    what: 'a boot-slot state file',
    hint: 'the slots of this machine are unreadable: provision it again (lab: `homecloud lab down` and up)',
  })
}

export async function writeBootStateFile(path: string, s: BootState): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(BootState.parse(s), null, 2)}\n`, 0o644)
}
