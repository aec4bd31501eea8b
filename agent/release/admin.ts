import { HomecloudError } from '../core/errors.js'
import { parseRelease } from './manifest.js'
import type { RecordsEtcd } from './records-relay.js'
import type { ReleaseService } from './service.js'
import { assertSigned } from './signature.js'
import { buildReleasesView, type ReleasesView } from './view.js'
import { addTrustedKey, publishManifest, setCurrentRelease } from './writes.js'

// What the admin's requests do on this node (routes.ts parses them): take a release
// upload (signature checked against the cluster's trusted keys before anything is
// written), announce it once complete, move `current`, trust another key. The last two
// need the CA key (routes send NOT_SIGNER otherwise, and the CLI tries another node).

export class ReleaseAdmin {
  constructor(
    private readonly s: ReleaseService,
    private readonly c: {
      nowMs: () => number
      caKeyPem: () => string | null
      names: () => Map<string, string>
    },
  ) {}

  private async etcd(): Promise<RecordsEtcd> {
    const etcd = this.s.etcd()
    if (!etcd)
      throw new HomecloudError(
        'ETCD_UNREACHABLE',
        'this node cannot reach etcd yet (no certificate or no voter alive)',
        'try again in a few seconds, or publish to another node',
      )
    await this.s.records.refresh(etcd)
    return etcd
  }

  view(): ReleasesView {
    const names = this.c.names()
    return buildReleasesView({
      self: { id: this.s.init.selfId, name: this.s.init.selfName },
      published: [...this.s.records.published.values()],
      current: this.s.records.current,
      keys: this.s.records.keys,
      holders: this.s.records.holders,
      names,
      local: {
        held: this.s.store.all().map((x) => ({
          id: x.release.id,
          version: x.release.manifest.version,
          have: x.have.count(),
          of: x.pieces.length,
          bits: x.have.toBase64(),
        })),
        downloads: [...this.s.downloads.values()].map((d) => ({
          id: d.id,
          have: d.have?.count() ?? 0,
          of: this.s.store.get(d.id)?.pieces.length ?? 0,
          dropped: d.droppedPeers(),
          problem: d.problem,
        })),
        problem: this.s.problem,
        uploadedBytes: Object.fromEntries(this.s.server?.uploaded ?? []),
      },
      problems: this.s.records.problems,
    })
  }

  async accept(manifestBytes: Buffer, sigText: string | null) {
    const release = parseRelease(manifestBytes)
    await this.etcd()
    assertSigned(release.manifestBytes, sigText, this.s.records.trusted())
    const held = await this.s.store.add(release, sigText!, this.s.keepSet())
    return {
      id: release.id,
      version: release.manifest.version,
      pieces: held.pieces.length,
      have: held.have.toBase64(),
    }
  }

  async piece(id: string, index: number, data: Buffer) {
    if (!this.s.store.get(id))
      throw new HomecloudError(
        'RELEASE_UNKNOWN',
        `release ${id.slice(0, 12)}… was not started here`,
        'send its manifest first (homecloud release publish does)',
      )
    await this.s.store.writePiece(id, index, data)
    const have = this.s.store.get(id)!.have
    return { have: have.count(), of: have.size }
  }

  async publish(id: string, current: boolean) {
    const held = this.s.store.get(id)
    if (!held?.have.complete())
      throw new HomecloudError(
        'RELEASE_UNKNOWN',
        `release ${id.slice(0, 12)}… is not complete on this node`,
        'upload every piece first',
      )
    const etcd = await this.etcd()
    const first = await publishManifest(etcd, {
      release: held.release,
      sigText: held.sigText,
      origin: this.s.init.selfId,
      nowMs: this.c.nowMs(),
    })
    await this.s.records.refresh(etcd)
    void this.s.p2p?.provide(id).catch(() => {})
    const arch = held.release.manifest.arch
    let promoted = false
    if ((current || !this.s.records.current?.archs[arch]) && this.c.caKeyPem())
      promoted = (await this.promote(id, current ? 'admin' : 'first-publish')).changed
    return {
      id,
      published: first ? 'now' : 'already',
      current: promoted || this.s.records.current?.archs[arch]?.id === id,
    }
  }

  async promote(id: string, by: string) {
    const etcd = await this.etcd()
    const entry = this.s.records.published.get(id)
    if (!entry)
      throw new HomecloudError(
        'RELEASE_UNKNOWN',
        `no published release ${id.slice(0, 12)}…`,
        'see homecloud release list',
      )
    const caKeyPem = this.c.caKeyPem()
    if (!caKeyPem) throw new HomecloudError('NOT_SIGNER', 'this node does not hold the CA key')
    const version = await setCurrentRelease(etcd, this.s.records, {
      clusterId: this.s.init.clusterId,
      caKeyPem,
      release: entry.release,
      by,
      nowMs: this.c.nowMs(),
    })
    return { id, arch: entry.release.manifest.arch, changed: version !== null }
  }

  async trust(key: string, note?: string) {
    const etcd = await this.etcd()
    const caKeyPem = this.c.caKeyPem()
    if (!caKeyPem) throw new HomecloudError('NOT_SIGNER', 'this node does not hold the CA key')
    const version = await addTrustedKey(etcd, this.s.records, {
      clusterId: this.s.init.clusterId,
      caKeyPem,
      key,
      nowMs: this.c.nowMs(),
      ...(note ? { note } : {}),
    })
    return { key, keysVersion: version, keys: this.s.records.trusted().size }
  }
}
