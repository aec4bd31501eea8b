// Debian's Chromium driven by playwright-core, for the status-page tests in test/browser.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core'
import { onCleanup } from './lab.js'

export const CHROMIUM_PATH = '/usr/bin/chromium'
export const SCREENSHOT_DIR = fileURLToPath(new URL('../output/screenshots/', import.meta.url))

/** A phone (iPhone 12-15 class) and an ordinary laptop screen. */
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
}
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } }

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM_PATH)
    ? null
    : `${CHROMIUM_PATH} not found: apt-get update && apt-get install -y chromium (scripts/setup.sh does it)`
}

/**
 * A home whose NSS database (what Chromium on Linux trusts besides the system store)
 * holds the cluster CA: the same step a person takes with `certutil` or the browser's
 * certificate settings. Removed after the test file.
 */
async function homeTrusting(caPem: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'hc-browser-home-'))
  onCleanup(() => rm(home, { recursive: true, force: true }))
  const db = join(home, '.pki', 'nssdb')
  await mkdir(db, { recursive: true })
  await writeFile(join(home, 'ca.crt'), caPem)
  await execa('certutil', ['-d', `sql:${db}`, '-N', '--empty-password'])
  await execa('certutil', [
    '-d',
    `sql:${db}`,
    '-A',
    '-t',
    'C,,',
    '-n',
    'homecloud',
    '-i',
    join(home, 'ca.crt'),
  ])
  return home
}

/**
 * A headless Chromium, closed after the test file (and on SIGINT/SIGTERM). Each launch
 * gets a fresh temporary profile (user-data dir) that playwright removes on close.
 * With `trustCa`, it trusts that cluster CA (and nothing else extra) for HTTPS pages.
 */
export async function launchChromium(opts: { trustCa?: string } = {}): Promise<Browser> {
  const home = opts.trustCa ? await homeTrusting(opts.trustCa) : undefined
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    ...(home ? { env: { ...process.env, HOME: home } } : {}),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  const close = () => browser.close().catch(() => {})
  onCleanup(close)
  after(close)
  return browser
}

/**
 * Saves test/output/screenshots/NAME.png (git-ignored): the whole page, and with
 * `firstScreen` also NAME-first-screen.png, what a phone shows before scrolling.
 */
export async function screenshot(
  page: Page,
  name: string,
  opts: { firstScreen?: boolean } = {},
): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  if (opts.firstScreen) await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-first-screen.png`) })
  return path
}

/** Collects what must never happen on the page: script dialogs, page errors, console errors. */
export function watchForTrouble(page: Page): string[] {
  const trouble: string[] = []
  page.on('dialog', (d) => {
    trouble.push(`dialog: ${d.message()}`)
    void d.dismiss()
  })
  page.on('pageerror', (e) => trouble.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') trouble.push(`console error: ${m.text()}`)
  })
  return trouble
}
