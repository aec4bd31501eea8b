import { mkdir, rename, rm } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import { EtcdTools } from '../etcd/snapshot.js'
import { etcdFiles } from '../etcd/spec.js'
import type { PeerConn } from '../mesh/swarm.js'
import {
  listSnapshots,
  pruneSnapshots,
  sha256File,
  snapshotName,
  snapshotPaths,
  snapshotsDir,
  writeManifest,
} from './snapshot-store.js'
import { sendSnapshot } from './snapshot-transfer.js'

// The coordinator's periodic snapshot: saved from its own member (etcd serves a
// snapshot without quorum too, but only the coordinator, which has quorum, takes
// them, so a snapshot is never of a member cut off from the rest), kept locally and
// pushed to two other nodes, the other voters first: with 2 of 3 voters gone, the
// survivor holds a recent one. A controller with one key, acting only while coordinator.

export const shipTargets = 2

export interface SnapshotTarget {
  id: string
  voter: boolean
  conn: PeerConn
}

export interface SnapshotKeeperInit {
  stateDir: string
  nodeId: string
  clientUrl: string
  intervalMs: number
  /** Where etcdctl is; default the pinned build. */
  etcdBinDir?: string
}

export interface SnapshotKeeperComponents {
  clock: Clock
  log: Logger
  random?: Random
  isLeader(): boolean
  /** Connected, alive nodes other than this one. */
  targets(): SnapshotTarget[]
}

/** The other voters first, then anyone, by id so a retry picks the same nodes. */
export function pickTargets(all: readonly SnapshotTarget[], n = shipTargets): SnapshotTarget[] {
  return [...all]
    .sort((a, b) => Number(b.voter) - Number(a.voter) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, n)
}

export class SnapshotKeeper {
  private readonly ctl: Controller
  private readonly tools: EtcdTools

  constructor(
    private readonly init: SnapshotKeeperInit,
    private readonly c: SnapshotKeeperComponents,
  ) {
    this.tools = new EtcdTools(init.etcdBinDir ? { binDir: init.etcdBinDir } : {})
    const everyMs = init.intervalMs
    this.ctl = new Controller(
      {
        name: 'snapshot-keeper',
        keys: () => ['snapshot'],
        resyncMs: everyMs,
        syncAtStart: false,
        mayAct: c.isLeader,
        // A failed snapshot is tried again next interval.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: (_key, ctx) => this.takeAndShip(ctx.mayAct),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  start(): void {
    this.ctl.start()
  }

  /** Resolves once a snapshot in flight has been saved or dropped. */
  stop(): Promise<void> {
    return this.ctl.stop()
  }

  /** Saves a snapshot of our member and ships it, unless this node stopped coordinating meanwhile. */
  async takeAndShip(mayAct: () => boolean = this.c.isLeader): Promise<void> {
    const dir = snapshotsDir(this.init.stateDir)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = `${dir}/.saving.db`
    await rm(tmp, { force: true })
    const takenAtMs = this.c.clock.nowMs()
    const info = await this.tools.snapshotSave(
      this.init.clientUrl,
      etcdFiles(this.init.stateDir).client,
      tmp,
      Math.max(10_000, this.init.intervalMs),
    )
    if (!mayAct()) {
      await rm(tmp, { force: true })
      return
    }
    const name = snapshotName(takenAtMs, info.revision)
    const sha256 = await sha256File(tmp)
    await rename(tmp, snapshotPaths(this.init.stateDir, name).file)
    const manifest = {
      v: 1 as const,
      name,
      sha256,
      sizeBytes: info.sizeBytes,
      revision: info.revision,
      takenAtMs,
      from: this.init.nodeId,
    }
    await writeManifest(this.init.stateDir, manifest)
    await pruneSnapshots(this.init.stateDir)
    const held = (await listSnapshots(this.init.stateDir)).find((s) => s.manifest.name === name)
    if (!held) return
    const targets = pickTargets(this.c.targets())
    for (const t of targets) await sendSnapshot(t.conn, held, this.c.clock)
    this.c.log.info(
      { snapshot: name, revision: info.revision, bytes: info.sizeBytes, to: targets.map((t) => t.id) },
      'snapshot taken and sent',
    )
  }
}
