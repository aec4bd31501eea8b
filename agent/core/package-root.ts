import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/**
 * The repository/package root, found by walking up from this file to the
 * package.json named "homecloud": works from sources (tsx) and from dist/ alike.
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  if (cached && from === dirname(fileURLToPath(import.meta.url))) return cached
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && readName(pkg) === 'homecloud') {
      cached = dir
      return dir
    }
    if (dirname(dir) === dir) throw new Error(`no homecloud package.json above ${from}`)
  }
}

function readName(file: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name as string | undefined
  } catch {
    return undefined
  }
}
