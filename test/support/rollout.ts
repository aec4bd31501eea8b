import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import type { UpgradeAnswer } from '../../agent/components/upgrade-routes.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { readReleaseDir } from '../../agent/release/dir.js'
import { makeRelease } from '../../agent/release/make.js'
import { SIGNATURE_FILE, signManifest } from '../../agent/release/signature.js'
import { publishRelease } from '../../cli/release-publish.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { labReleaseKey } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'

// Helpers for the rollout tests and benchmark: releases of the agent stamped with a
// version (a real build each: images/netboot/build.sh --version), the CLI, and a
// watcher that samples Kubernetes while a rollout runs.

/** Progress lines on stderr, each with the seconds since this was made (where a test's time goes). */
export function timedSay(): (line: string) => void {
  const t0 = Date.now()
  return (l) => process.stderr.write(`  … [${Math.round((Date.now() - t0) / 1000)} s] ${l}\n`)
}

/** The netboot image of this code stamped `version` (cached by its inputs). */
export function stampedImage(
  version: string,
  o: { testExitAtStart?: boolean; progress?: (l: string) => void } = {},
) {
  return ensureNetbootImage(o.progress ?? (() => {}), { version, testExitAtStart: !!o.testExitAtStart })
}

/** The image signed with the lab's release key, as a release directory in the lab. */
export async function labSignedRelease(lab: Pick<LabFile, 'dir'>, imageDir: string, name: string) {
  const out = join(lab.dir, `release-${name}`)
  const r = await makeRelease({ from: imageDir, out })
  await writeFile(
    join(out, SIGNATURE_FILE),
    `${JSON.stringify(signManifest(r.manifestBytes, await labReleaseKey(lab.dir)))}\n`,
  )
  return { dir: out, id: r.id, version: r.manifest.version }
}

export async function publishTo(lab: LabFile, dir: string, node: string): Promise<string> {
  const r = await publishRelease({ admin: join(lab.dir, 'admin.json'), dir, node, current: false })
  return r.id
}

export async function releaseIdOfDir(dir: string): Promise<string> {
  return (await readReleaseDir(dir)).release.id
}

/** `homecloud ARGS --admin lab/admin.json` (or another admin config): exit code and output. */
export async function homecloud(
  lab: Pick<LabFile, 'dir'>,
  args: string[],
  admin = join(lab.dir, 'admin.json'),
) {
  const r = await execa(
    process.execPath,
    [join(packageRoot(), 'bin', 'homecloud.js'), ...args, '--admin', admin],
    {
      reject: false,
    },
  )
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/**
 * The lab's admin config naming every given node (the founder's names only the founder):
 * the CLI tries them in turn, so it still answers with the founder unplugged.
 */
export async function adminForAll(lab: LabFile, nodes: readonly LabNode[]): Promise<string> {
  const cfg = JSON.parse(await readFile(join(lab.dir, 'admin.json'), 'utf8')) as { urls: string[] }
  const port = new URL(cfg.urls[0]!).port || '7443'
  const file = join(lab.dir, 'admin-all.json')
  await writeFile(file, JSON.stringify({ ...cfg, urls: nodes.map((n) => `https://${n.address}:${port}`) }))
  return file
}

export async function upgradeStatus(
  lab: Pick<LabFile, 'dir'>,
  admin?: string,
): Promise<UpgradeAnswer | string> {
  const r = await homecloud(lab, ['upgrade', 'status', '--json'], admin)
  if (r.exitCode !== 0) return r.stderr.trim() || `exit ${r.exitCode}`
  return JSON.parse(r.stdout) as UpgradeAnswer
}

export interface WatchReport {
  /** Most Nodes cordoned at once, over every change a watch of the Nodes saw. */
  cordonedMax: number
  /** Times the budget's current healthy pods went below its desired healthy, over every change. */
  budgetViolations: number
  /** Longest time (ms) the Deployment had fewer ready replicas than the budget allows. */
  belowBudgetMsMax: number
  /** Longest time (ms) between two answers of the API through the balancer. */
  apiGapMsMax: number
  events: number
}

/**
 * Watches through `kubectl` (restarted when the connection breaks: the balancer's node may
 * be the one rebooting): every change of every Node's cordon, every change of the budget's
 * healthy count; and samples the API every `everyMs` for the longest gap.
 */
export function watchCluster(bin: string, kubeconfig: string, o: { pdb: string; everyMs?: number }) {
  const r: WatchReport = {
    cordonedMax: 0,
    budgetViolations: 0,
    belowBudgetMsMax: 0,
    apiGapMsMax: 0,
    events: 0,
  }
  let running = true
  const cordoned = new Map<string, boolean>()
  let belowSince: number | null = null
  const base = ['--kubeconfig', kubeconfig]
  const watch = async (args: string[], onLine: (cells: string[]) => void, onStart = () => {}) => {
    while (running) {
      onStart()
      const child = execa(bin, [...base, 'get', ...args, '-w', '--no-headers'], {
        reject: false,
        buffer: false,
      })
      stop.push(() => child.kill('SIGKILL'))
      let rest = ''
      child.stdout?.on('data', (b: Buffer) => {
        const lines = (rest + b.toString('utf8')).split('\n')
        rest = lines.pop() ?? ''
        for (const l of lines) if (l.trim()) onLine(l.trim().split(/\s+/))
      })
      await child
      if (running) await new Promise((res) => setTimeout(res, 500))
    }
  }
  const stop: (() => void)[] = []
  const nodes = watch(
    ['nodes', '-o', 'custom-columns=N:.metadata.name,U:.spec.unschedulable'],
    ([name, u]) => {
      r.events++
      cordoned.set(name ?? '', u === 'true')
      r.cordonedMax = Math.max(r.cordonedMax, [...cordoned.values()].filter(Boolean).length)
    },
    // A restarted watch lists every Node again from one snapshot: forget what the broken one
    // saw, or a Node uncordoned while it was down would still count beside one cordoned since.
    () => cordoned.clear(),
  )
  const pdb = watch(
    ['pdb', o.pdb, '-o', 'custom-columns=H:.status.currentHealthy,D:.status.desiredHealthy'],
    ([h, d]) => {
      r.events++
      const now = Date.now()
      if (Number(h) < Number(d)) {
        if (belowSince === null) r.budgetViolations++
        belowSince ??= now
        r.belowBudgetMsMax = Math.max(r.belowBudgetMsMax, now - belowSince)
      } else belowSince = null
    },
  )
  let lastAnswer = Date.now()
  const gaps = (async () => {
    while (running) {
      const t0 = Date.now()
      const a = await execa(bin, [...base, '--request-timeout=3s', 'get', '--raw', '/readyz'], {
        reject: false,
      })
      if (a.exitCode === 0) {
        r.apiGapMsMax = Math.max(r.apiGapMsMax, Date.now() - lastAnswer)
        lastAnswer = Date.now()
      }
      await new Promise((res) => setTimeout(res, Math.max(0, (o.everyMs ?? 1000) - (Date.now() - t0))))
    }
  })()
  return {
    report: r,
    async stop(): Promise<WatchReport> {
      running = false
      for (const s of stop) s()
      await Promise.all([nodes, pdb, gaps])
      r.apiGapMsMax = Math.max(r.apiGapMsMax, Date.now() - lastAnswer)
      return r
    },
  }
}

/** What the lab firmware reads at every boot: `<node dir>/slots/boot.json`. */
export interface LabBootJson {
  good: 'a' | 'b'
  booted: 'a' | 'b'
  slots: Record<'a' | 'b', { version: string; releaseId: string } | null>
  lastFallback: { releaseId: string; version?: string; reason: string } | null
}

export async function labNodeSlots(n: Pick<LabNode, 'stateDir'>): Promise<LabBootJson> {
  return JSON.parse(await readFile(join(n.stateDir, '..', 'slots', 'boot.json'), 'utf8')) as LabBootJson
}

/** The rollout's timings for a lab (fast passes; a gate that waits long enough for a loaded machine). */
export const LAB_ROLLOUT = {
  enabled: true,
  gateTimeoutMs: 180_000,
  leaderStableMs: 2000,
  nodeGoneMs: 60_000,
  everyMs: 1000,
  resendMs: 5000,
}

/** Every node booted `version` from slot a and committed; every member announces it. */
export async function assertBootedOn(lab: LabFile, version: string): Promise<void> {
  for (const n of lab.nodes) {
    const s = await labNodeSlots(n)
    assert.equal(s.booted, 'a', n.name)
    assert.equal(s.slots.a?.version, version, n.name)
  }
  const v = (await (await fetch(`${nodeUrl(lab.nodes[0]!)}api/v1/cluster`)).json()) as {
    members: { name: string; version: string }[]
  }
  for (const m of v.members) assert.equal(m.version, version, `${m.name} announces ${version}`)
}

/** Waits for the rollout's phase to satisfy `done`; returns the last answer. */
export async function waitRollout(
  lab: Pick<LabFile, 'dir'>,
  done: (s: UpgradeAnswer) => boolean,
  o: { timeoutMs: number; progress?: (l: string) => void; admin?: string },
): Promise<UpgradeAnswer> {
  let last: UpgradeAnswer | string = ''
  await waitFor(
    async () => {
      last = await upgradeStatus(lab, o.admin)
      if (typeof last === 'string') return last
      return done(last) || `${last.rollout?.phase}: ${last.rollout?.waiting}`
    },
    { timeoutMs: o.timeoutMs, progress: o.progress, intervalMs: 3000 },
  )
  return last as unknown as UpgradeAnswer
}
