import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { PAGE_ASSETS, PageAssets } from '../../../../agent/api/page/assets.js'
import { packageRoot } from '../../../../agent/core/package-root.js'

const PAGE_DIR = join(packageRoot(), 'agent', 'api', 'page')

/** Imports that survive compilation (type-only ones are erased). */
async function runtimeImports(file: string): Promise<string[]> {
  const src = await readFile(join(PAGE_DIR, file.replace(/\.js$/, '.ts')), 'utf8')
  return [...src.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!)
}

test('the served modules are exactly the browser script and everything it imports', async () => {
  const served = new Set(Object.values(PAGE_ASSETS))
  const reached = new Set<string>()
  const queue = [PAGE_ASSETS['status.js']!]
  while (queue.length > 0) {
    const file = queue.pop()!
    if (reached.has(file)) continue
    reached.add(file)
    for (const spec of await runtimeImports(file)) {
      assert.match(spec, /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}: the browser cannot load it`)
      const target = spec.slice(2)
      assert.ok(served.has(target), `${file} imports ${target}, which is not served`)
      assert.ok(Object.hasOwn(PAGE_ASSETS, target), `${target} must be served under its own name`)
      queue.push(target)
    }
  }
  assert.deepEqual([...reached].sort(), [...served].sort())
})

test('only listed assets are read, each once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hc-assets-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'browser.js'), "import './body.js'\n//# sourceMappingURL=browser.js.map\n")
  await writeFile(join(dir, 'secret.js'), 'nope')
  const assets = new PageAssets(dir)
  const a = assets.get('status.js')
  assert.equal(a?.body, "import './body.js'\n")
  assert.match(a?.etag ?? '', /^"[\w-]{22}"$/)
  await writeFile(join(dir, 'browser.js'), 'changed')
  assert.equal(assets.get('status.js'), a)
  for (const name of ['secret.js', 'browser.js', '../assets.js', 'constructor', '__proto__', 'body.js'])
    assert.equal(assets.get(name), null, name)
})
