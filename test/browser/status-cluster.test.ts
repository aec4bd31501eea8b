// The status page tells the same truth on every node and says what to do (issue 17), in
// Chromium against one real lab of network namespaces: three Pi 5 etcd voters, a Pi 4 on
// an SD card (too slow for etcd), and an x86 machine running the real kubelet and
// containerd. With a voter unplugged and no board able to take its seat, every node's
// page shows the same voters and leader (workers read them through a voter over mutual
// TLS) and a verdict naming the kind of board to plug in; the kubelet node's Node
// condition and pod count appear; axe-core, run in the page, finds no violations.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import axe from 'axe-core'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labAdd, labCaPem, labUnplug, nodeHttpsUrl, nodeUrl } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import {
  chromiumMissing,
  DESKTOP,
  launchChromium,
  PHONE,
  screenshot,
  watchForTrouble,
} from '../support/browser.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { onCleanup, startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { busyboxDeployment, packBusybox } from '../support/oci.js'

const root = process.getuid?.() === 0
const skip = chromiumMissing() ?? (!root && 'needs root (namespaces, a real kubelet)')
const WAIT_MS = 120_000
// No x86 fallback here: this lab is about a seat no board can take (an x86 machine would
// otherwise fill it; controlplane-fallback.test.ts shows that on the page).
// Add-ons off: CoreDNS, MetalLB and local-path prefer a real kubelet, so whether they land
// on the x86 machine depends on whether it had registered when the scheduler placed them,
// and its pod count with it (a CI run saw more than the test's one pod). kube-services
// tests the add-ons.
const CONFIG = {
  ...CP_CONFIG,
  controlPlane: { ...CP_CONFIG.controlPlane, fallbackArchs: [] },
  kube: { addons: false },
}

async function setUp(): Promise<{ lab: LabFile; kubelet: LabNode; browser: Browser }> {
  const images = await mkdtemp(join(tmpdir(), 'hc-test-images-'))
  onCleanup(() => rm(images, { recursive: true, force: true }))
  await packBusybox(images)
  const lab = await startLab({
    boards: 'pi5,pi5,pi5,pi4',
    netns: true,
    kube: true,
    agentConfig: CONFIG,
    timeoutMs: 180_000,
  })
  const kubelet = await labAdd(lab.dir, 'x86', {
    kubelet: true,
    agentConfig: { ...CONFIG, kube: { ...CONFIG.kube, runtime: { imageDirs: [images] } } },
    timeoutMs: 120_000,
  })
  const browser = await launchChromium({ trustCa: await labCaPem(lab) })
  return { lab, kubelet, browser }
}

// Module level, not before(): see status-page.test.ts (after() inside before() runs at once).
const rig = skip ? null : await setUp()

function row(page: Page, name: string) {
  return page.locator('#node-rows tr').filter({ has: page.getByText(name, { exact: true }) })
}

async function openPage(browser: Browser, url: string, opts: BrowserContextOptions) {
  const context = await browser.newContext(opts)
  const page = await context.newPage()
  const trouble = watchForTrouble(page)
  await page.goto(url)
  return { page, trouble, close: () => context.close() }
}

/** axe-core's own script, run in the page (evaluated over the devtools protocol: the page's CSP forbids inline scripts). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axe.source)
  const result = (await page.evaluate(
    `axe.run(document, { rules: { 'target-size': { enabled: true } } }).then((r) => ({
      passes: r.passes.length,
      violations: r.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')),
    }))`,
  )) as { passes: number; violations: string[] }
  assert.ok(result.passes > 20, `axe ran its rules (${result.passes} passed)`)
  return result.violations
}

/** Voters and leader as the page's control-plane section lists them. */
async function controlPlaneOnPage(page: Page) {
  const dd = (term: string) => page.locator(`#control-plane dt:text-is("${term}") + dd`).textContent()
  return { voters: await dd('Voters'), leader: await dd('Leader'), source: await dd('Source') }
}

describe('the same truth on every node, and what to do', { skip, timeout: 900_000 }, () => {
  const { lab, kubelet, browser } = rig ?? ({} as NonNullable<typeof rig>)

  test('the kubelet node’s Node condition, version and pod count appear; machines show their load', async () => {
    const { kubectl } = await labKubectl(lab.dir, lab.nodes[0]!.name)
    await applyWhenAccepted(
      kubectl,
      lab.dir,
      'hello',
      busyboxDeployment('hello', kubelet.name, 'exec sleep 100000'),
    )
    const { page, trouble, close } = await openPage(browser, nodeUrl(lab.nodes[3]!), DESKTOP)
    // The page's count against Kubernetes' own (the page reloads itself), so a timeout says both.
    const pods = row(page, kubelet.name).locator('td[data-label="Pods"]')
    await waitFor(
      async () => {
        const shown = (await pods.count()) ? await pods.textContent() : 'no row yet'
        if (shown === '1') return true
        const onNode = `--field-selector=spec.nodeName=${kubelet.name}`
        const r = await kubectl(['get', 'pods', '-A', '-o', 'wide', onNode])
        return `the page shows ${shown} pods on ${kubelet.name}; Kubernetes: ${r.stdout || r.stderr}`
      },
      { timeoutMs: WAIT_MS, intervalMs: 2000 },
    )
    assert.match(
      (await row(page, kubelet.name).locator('td[data-label="Kubernetes"]').textContent()) ?? '',
      /^Ready · v1\.37\.1/,
    )
    // kwok's Nodes are there too, each Ready once its kwok reports (the page reloads itself).
    for (const n of lab.nodes)
      await row(page, n.name)
        .locator('td[data-label="Kubernetes"]', { hasText: /^Ready · kwok-/ })
        .waitFor({ timeout: WAIT_MS })
    // Every node's load, pulled from it over 7443, with a chart of the last hour.
    await page.locator('#machines .machine svg.chart-cpu').nth(lab.nodes.length).waitFor({ timeout: WAIT_MS })
    assert.match((await page.locator('#machines').textContent()) ?? '', /Lab boards share one computer/)
    await screenshot(page, 'cluster-kubelet-node')
    await close()
    assert.deepEqual(trouble, [])
  })

  test('an accessibility audit (axe-core) of the healthy page finds nothing, on a phone too', async () => {
    for (const [opts, url] of [
      [DESKTOP, nodeHttpsUrl(lab.nodes[0]!)],
      [PHONE, nodeUrl(kubelet)],
    ] as const) {
      const { page, trouble, close } = await openPage(browser, url, opts)
      await page.locator('#live.live-on').waitFor({ timeout: WAIT_MS })
      assert.deepEqual(await axeViolations(page), [], url)
      await close()
      assert.deepEqual(trouble, [])
    }
  })

  test('a voter unplugged, no eligible spare: every node shows the same voters and leader and names the board to plug in', async () => {
    const voter = lab.nodes[1]!
    await labUnplug(lab.dir, voter.name)
    const alive = [...lab.nodes.filter((n) => n !== voter), kubelet]
    const seen = new Map<
      string,
      Awaited<ReturnType<typeof controlPlaneOnPage>> & { headline: string | null }
    >()
    const context = await browser.newContext({ ...DESKTOP, javaScriptEnabled: false })
    const page = await context.newPage()
    // Until the cluster has settled (the dead voter is removed after the grace), then stable.
    await waitFor(
      async () => {
        for (const n of alive) {
          await page.goto(nodeUrl(n))
          seen.set(n.name, {
            ...(await controlPlaneOnPage(page)),
            headline: await page.locator('#verdict-headline').textContent(),
          })
        }
        const views = [...seen.values()]
        const same = new Set(views.map((v) => `${v.voters}|${v.leader}`)).size === 1
        const atRisk = views.every((v) => v.headline === 'At risk: no failure to spare')
        const settled = views.every((v) => v.voters !== null && !v.voters.includes(voter.name))
        return same && atRisk && settled ? true : JSON.stringify(Object.fromEntries(seen))
      },
      { timeoutMs: WAIT_MS, intervalMs: 1000 },
    )
    for (const [name, v] of seen) {
      assert.notEqual(v.leader, 'none', name)
      // Workers read etcd through a voter, never from the mesh.
      assert.match(v.source ?? '', /^etcd/, name)
    }
    assert.match(seen.get(kubelet.name)!.source ?? '', /^etcd, through pi5-/)
    // The verdict names the missing kind of board and why the others cannot serve.
    const seat = page.locator('#verdict .finding-seat')
    await page.goto(nodeUrl(kubelet))
    assert.match(
      (await seat.textContent()) ?? '',
      /Plug in an ARM board \(arm64 or arm\) with an SSD or NVMe disk/,
    )
    assert.match((await seat.textContent()) ?? '', /pi4-4: SD card fsync p99 40 ms > 10 ms/)
    assert.match((await seat.textContent()) ?? '', new RegExp(`${kubelet.name}: amd64 not eligible`))
    await screenshot(page, 'cluster-voter-unplugged-no-javascript')
    await context.close()

    // The same, live, on a phone; and the audit on this page with its findings.
    const { page: phone, trouble, close } = await openPage(browser, nodeHttpsUrl(lab.nodes[3]!), PHONE)
    await phone.locator('#live.live-on').waitFor({ timeout: WAIT_MS })
    assert.equal(await phone.locator('#verdict-headline').textContent(), 'At risk: no failure to spare')
    assert.deepEqual(await axeViolations(phone), [])
    await screenshot(phone, 'cluster-voter-unplugged-phone', { firstScreen: true })
    await close()
    assert.deepEqual(trouble, [])
  })
})
