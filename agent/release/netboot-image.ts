import type { NetbootImage } from '../netboot/manifest.js'
import type { ReleaseRecords } from './records-client.js'
import type { ReleaseStore } from './store.js'

// What netboot serves for an architecture: the cluster's current release once it is
// complete here, else no image and a reason the status page and netboot's log show.

export function netbootImageFor(
  current: ReleaseRecords['current'],
  store: Pick<ReleaseStore, 'image' | 'get'>,
  arch: 'amd64' | 'arm64',
): { image: NetbootImage | null; reason: string } {
  const cur = current?.archs[arch]
  if (!cur)
    return { image: null, reason: `the cluster has no current ${arch} release (homecloud release publish)` }
  const image = store.image(cur.id)
  if (image) return { image, reason: '' }
  const s = store.get(cur.id)
  const progress = s ? ` (${s.have.count()}/${s.pieces.length} pieces)` : ''
  return { image: null, reason: `release ${cur.version} is still arriving here${progress}` }
}
