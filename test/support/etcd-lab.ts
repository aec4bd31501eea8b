import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Clock, systemClock } from '../../agent/core/clock.js'
import { createLogger, type Logger } from '../../agent/core/log.js'
import { etcdProgram } from '../../agent/etcd/binaries.js'
import { EtcdClient } from '../../agent/etcd/client.js'
import type { ClientTls } from '../../agent/etcd/gateway.js'
import { type InitialClusterEntry, initialClusterForJoin } from '../../agent/etcd/model/initial-cluster.js'
import { EtcdProcess, type EtcdProcessInit } from '../../agent/etcd/process.js'
import type { EtcdctlTls } from '../../agent/etcd/snapshot.js'
import { clientUrlOf, type EtcdMemberSpec, etcdFiles, peerUrlOf } from '../../agent/etcd/spec.js'
import { type CaMaterial, createCa } from '../../agent/pki/ca.js'
import { issueCertificate } from '../../agent/pki/sign.js'
import { pkiPaths, writeCertAndKey, writeCertFile } from '../../agent/pki/store.js'
import { LAB_ENV } from '../../lab/processes.js'

// Real etcd members for tests: each its own process on its own loopback address
// (127.0.<block>.<n>, blocks above the lab's 1–200 so labs never collide), each with a
// node state dir holding certificates from one test CA. Children carry the lab marker
// in their environment, so scripts/test.sh's reaper kills them even if a test dies.

/**
 * The system clock, except that its timers keep the process alive: a test waiting for
 * a lease to lapse may have nothing else running (the agent's clock unrefs them).
 */
export const realClock: Clock = systemClock({ keepAlive: true })

export interface LabMember {
  n: number
  name: string
  address: string
  stateDir: string
  clientUrl: string
  peerUrl: string
  spec?: EtcdMemberSpec
  proc?: EtcdProcess
}

export interface StartOptions {
  /** The directory of another etcd build (default the pinned one). */
  binDir?: string
  restart?: EtcdProcessInit['restart']
}

export interface EtcdLabInit {
  /** Third octet of the members' loopback addresses; one block per test file. */
  block: number
  restart?: EtcdProcessInit['restart']
}

export class EtcdLab {
  readonly members = new Map<number, LabMember>()
  private readonly clients: EtcdClient[] = []
  readonly log: Logger
  readonly token: string

  private constructor(
    readonly dir: string,
    readonly ca: CaMaterial,
    readonly clientTls: ClientTls,
    readonly clientFiles: EtcdctlTls,
    private readonly init: EtcdLabInit,
  ) {
    this.log = createLogger({
      destination: join(dir, 'etcd.log'),
      level: 'info',
      node: `etcd-lab-${init.block}`,
    })
    this.token = `test-${init.block}-${Date.now().toString(36)}`
  }

  static async create(init: EtcdLabInit): Promise<EtcdLab> {
    await killStaleMembers(init.block)
    // The reaper's prefix: leftovers of a crashed test run are found by it.
    const dir = await mkdtemp(join(tmpdir(), 'hc-test-lab-etcd-'))
    const ca = createCa({ clusterId: `c-etcd-${init.block}`, clusterName: 'etcd-test', clock: realClock })
    const client = issueCertificate({
      ca,
      profile: 'etcd-client',
      identity: { nodeId: 'test-client' },
      clock: realClock,
    })
    const files = {
      caFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'client.crt'),
      keyFile: join(dir, 'client.key'),
    }
    await writeCertFile(files.caFile, ca.certPem)
    await writeCertAndKey({ cert: files.certFile, key: files.keyFile }, client)
    return new EtcdLab(
      dir,
      ca,
      { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem },
      files,
      init,
    )
  }

  /** A node with its certificates (made once per n). */
  async member(n: number): Promise<LabMember> {
    const known = this.members.get(n)
    if (known) return known
    const address = `127.0.${this.init.block}.${n}`
    const name = `n${n}`
    const stateDir = join(this.dir, 'nodes', name)
    const pki = pkiPaths(stateDir)
    await mkdir(stateDir, { recursive: true })
    await writeCertFile(pki.caCert, this.ca.certPem)
    const issue = (profile: 'etcd-server' | 'etcd-peer', localhost: boolean) =>
      issueCertificate({
        ca: this.ca,
        profile,
        identity: { nodeId: name, ips: [address], localhost },
        clock: realClock,
      })
    await writeCertAndKey(pki.profile('etcd-server'), issue('etcd-server', false))
    // On loopback the kernel dials peers from 127.0.0.1, and etcd checks a peer's
    // source address against its certificate's IP SANs: the lab's peer certificates
    // carry 127.0.0.1 too. (Boards dial from their own address; no such need there.)
    await writeCertAndKey(pki.profile('etcd-peer'), issue('etcd-peer', true))
    const m: LabMember = {
      n,
      name,
      address,
      stateDir,
      clientUrl: clientUrlOf(address),
      peerUrl: peerUrlOf(address),
    }
    this.members.set(n, m)
    return m
  }

  client(
    endpoints: readonly string[],
    tls: ClientTls = this.clientTls,
    requestTimeoutMs?: number,
  ): EtcdClient {
    const c = new EtcdClient({ endpoints, tls, requestTimeoutMs }, { clock: realClock })
    this.clients.push(c)
    return c
  }

  /**
   * Starts member n with the given cluster view (no membership change); `binDir` runs
   * another etcd build than the pinned one (the upgrade test).
   */
  async startMember(
    n: number,
    initialCluster: InitialClusterEntry[],
    state: 'new' | 'existing',
    opts: StartOptions = {},
  ): Promise<LabMember> {
    const m = await this.member(n)
    const files = etcdFiles(m.stateDir)
    m.spec = {
      name: m.name,
      dataDir: files.dataDir,
      address: m.address,
      initialCluster,
      initialClusterState: state,
      initialClusterToken: this.token,
      tls: files.tls,
    }
    m.proc = new EtcdProcess(
      {
        spec: m.spec,
        env: { [LAB_ENV]: this.dir },
        pidFile: files.pidFile,
        restart: opts.restart ?? this.init.restart,
        ...(opts.binDir ? { binary: etcdProgram('etcd', opts.binDir) } : {}),
      },
      { logger: this.log, clock: realClock },
    )
    await m.proc.start()
    return m
  }

  /** A one-member cluster, healthy. */
  async found(n: number, opts: StartOptions = {}): Promise<LabMember> {
    const m = await this.member(n)
    await this.startMember(n, [{ name: m.name, peerUrl: m.peerUrl }], 'new', opts)
    await this.waitHealthy([m.clientUrl])
    return m
  }

  /** The full join: add as learner (via `via`), start with state existing, promote once caught up. */
  async join(
    n: number,
    via: EtcdClient,
    opts: StartOptions = {},
  ): Promise<{ member: LabMember; id: bigint }> {
    const m = await this.member(n)
    const added = await via.addLearnerWhenAllowed(m.peerUrl)
    await this.startMember(
      n,
      initialClusterForJoin(added.members, { name: m.name, peerUrl: m.peerUrl }),
      'existing',
      opts,
    )
    await via.promoteWhenReady(added.member.id, { timeoutMs: 30_000, intervalMs: 100 })
    return { member: m, id: added.member.id }
  }

  /** Members 1..size as a healthy cluster of voters; resolves with a client on all of them. */
  async form(size: number): Promise<EtcdClient> {
    const first = await this.found(1)
    const c = this.client([first.clientUrl])
    for (let n = 2; n <= size; n++) await this.join(n, c)
    const all = this.client([...this.members.values()].map((m) => m.clientUrl))
    await this.waitHealthy(all.endpoints)
    return all
  }

  async waitHealthy(endpoints: readonly string[], timeoutMs = 30_000): Promise<void> {
    const probe = this.client(endpoints)
    await waitFor(`healthy: ${endpoints.join(' ')}`, timeoutMs, async () => {
      const results = await Promise.all(endpoints.map((e) => probe.health(e, 2000)))
      return results.every((r) => r.healthy)
    })
  }

  /** Kills every member and removes the lab directory. Safe to call twice. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.proc?.kill().catch(() => {})))
    for (const c of this.clients) c.close()
    if (!process.env.HOMECLOUD_KEEP_TEST_DIRS) await rm(this.dir, { recursive: true, force: true })
  }
}

/** An etcd of an earlier, crashed run of this file still holds the block's addresses. */
async function killStaleMembers(block: number): Promise<void> {
  const marker = `--listen-peer-urls=https://127.0.${block}.`
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number)) {
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (argv.split('\0').some((a) => a.startsWith(marker))) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  }
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
  everyMs = 50,
) {
  const deadline = performance.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      lastError = err
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
      )
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
