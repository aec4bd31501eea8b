import { readFileSync } from 'node:fs'
import { packageRoot } from './core/package-root.js'

/** The agent version gossiped in node records: the package version. */
export const AGENT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8'))
    return String(pkg.version)
  } catch {
    return '0.0.0'
  }
})()
