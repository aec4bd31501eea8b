import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../../core/package-root.js'

/**
 * The browser script and the modules it imports, by URL name under /assets/ → compiled
 * file in this folder. Nothing else is ever served from disk. A unit test keeps this
 * list closed under browser.ts's imports.
 */
export const PAGE_ASSETS: Readonly<Record<string, string>> = Object.freeze({
  'status.js': 'browser.js',
  'body.js': 'body.js',
  'chart.js': 'chart.js',
  'control-plane.js': 'control-plane.js',
  'findings.js': 'findings.js',
  'format.js': 'format.js',
  'links.js': 'links.js',
  'machines.js': 'machines.js',
  'releases.js': 'releases.js',
  'rollout.js': 'rollout.js',
  'services.js': 'services.js',
  'nodes.js': 'nodes.js',
  'pending.js': 'pending.js',
  'timeline.js': 'timeline.js',
  'to-dom.js': 'to-dom.js',
  'verdict.js': 'verdict.js',
  'vnode.js': 'vnode.js',
})

export interface PageAsset {
  body: string
  etag: string
}

/**
 * The folder holding the compiled page modules: this one when running from dist/, the
 * matching dist/ folder when running from sources (tsx), which needs `npm run build`.
 */
export function defaultAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  if (!import.meta.url.endsWith('.ts')) return here
  const root = packageRoot()
  return join(root, 'dist', relative(root, here))
}

/** Reads each asset once (they change only with the agent) and keeps it in memory. */
export class PageAssets {
  private readonly cache = new Map<string, PageAsset>()

  constructor(private readonly dir: string = defaultAssetsDir()) {}

  get(name: string): PageAsset | null {
    const file = Object.hasOwn(PAGE_ASSETS, name) ? PAGE_ASSETS[name] : undefined
    if (!file) return null
    const cached = this.cache.get(name)
    if (cached) return cached
    let body: string
    try {
      // Source maps stay on the node; the browser would only ask for them in devtools.
      body = readFileSync(join(this.dir, file), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
    } catch {
      return null // not built: the page still works, only without live updates
    }
    const asset = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
    this.cache.set(name, asset)
    return asset
  }
}
