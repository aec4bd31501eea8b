import { HomecloudError } from '../agent/core/errors.js'

/** The lab a newcomer gets: three capable ARM boards, a Pi 4 on an SD card, an old laptop. */
export const DEFAULT_BOARDS = ['pi5', 'rock5b', 'pi4-ssd', 'pi4', 'x86'] as const

/** Boards for `--nodes N` / `--boards a,b,c`: the explicit list wins; N cycles the defaults. */
export function chooseBoards(opts: { nodes?: number; boards?: string }, known: string[]): string[] {
  let boards: string[]
  if (opts.boards) {
    boards = opts.boards
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean)
    if (opts.nodes !== undefined && opts.nodes !== boards.length) {
      throw new HomecloudError(
        'LAB_INVALID',
        `--nodes ${opts.nodes} but --boards lists ${boards.length} boards`,
      )
    }
  } else {
    const n = opts.nodes ?? DEFAULT_BOARDS.length
    boards = Array.from({ length: n }, (_, i) => DEFAULT_BOARDS[i % DEFAULT_BOARDS.length]!)
  }
  if (boards.length < 1 || boards.length > 200) {
    throw new HomecloudError('LAB_INVALID', `a lab has 1 to 200 nodes, not ${boards.length}`)
  }
  const unknown = boards.filter((b) => !known.includes(b))
  if (unknown.length > 0) {
    throw new HomecloudError(
      'PROFILE_UNKNOWN',
      `unknown board(s): ${unknown.join(', ')}`,
      `known boards: ${known.join(', ')}`,
    )
  }
  return boards
}

/** Node names say what the node pretends to be, e.g. "pi5-1", "x86-5". */
export function nodeName(board: string, slot: number): string {
  return `${board}-${slot}`
}

export function loopbackAddress(index: number, slot: number): string {
  return `127.0.${index}.${slot + 1}`
}

export function netnsAddress(index: number, slot: number): string {
  return `10.77.${index}.${slot + 1}`
}
