// Prints the node_modules directories the agent needs at run time: the closure of
// package.json "dependencies" (and optional dependencies that are installed), resolved
// the way Node resolves them (nearest node_modules up the tree). Dev tools never ship.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const root = process.argv[2] ?? process.cwd()
const seen = new Set()
function resolveFrom(dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (d === root || d === dirname(d)) return null
  }
}
function visit(dir, optional) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const deps = [
    ...Object.keys(pkg.dependencies ?? {}).map((n) => [n, false]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, true]),
  ]
  for (const [name, opt] of deps) {
    const found = resolveFrom(dir, name)
    if (!found) {
      if (opt || optional) continue
      throw new Error(`${name} (needed by ${relative(root, dir) || 'the agent'}) is not installed: run npm install`)
    }
    if (seen.has(found)) continue
    seen.add(found)
    visit(found, opt)
  }
}
visit(root, false)
for (const d of [...seen].sort()) console.log(relative(root, d))
