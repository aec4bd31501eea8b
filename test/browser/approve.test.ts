// Approving a pending node from the status page: log in, click, and watch it join.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import type { Browser } from 'playwright-core'
import { packageRoot } from '../../agent/core/package-root.js'
import type { LabFile } from '../../lab/lab-file.js'
import { labAdd, labCaPem, nodeHttpsUrl, nodeUrl } from '../../lab/launcher.js'
import { chromiumMissing, DESKTOP, launchChromium, screenshot, watchForTrouble } from '../support/browser.js'
import { httpsRequest } from '../support/https.js'
import { eventually, startLab } from '../support/lab.js'

const run = promisify(execFile)
const skip = chromiumMissing() ?? false
// Module level, not before(): see status-page.test.ts (after() inside before() runs at once).
const lab: LabFile | null = skip ? null : await startLab({ nodes: 3 })
const caPem = skip ? '' : await labCaPem(lab!)
const browser: Browser | null = skip ? null : await launchChromium({ trustCa: caPem })

describe('approving from the status page', { skip }, () => {
  test('actions need a login and the session CSRF token; a click lets the node in', async () => {
    const founder = lab!.nodes[0]!
    const plain = nodeUrl(founder)
    const url = nodeHttpsUrl(founder)
    await run(process.execPath, [
      join(packageRoot(), 'bin', 'homecloud.js'),
      'settings',
      '--join-policy',
      'approve',
      '--admin',
      join(lab!.dir, 'admin.json'),
    ])
    const newcomer = await labAdd(lab!.dir, 'pi5', { wait: false })
    await eventually(
      [founder],
      (v) => v.members.some((m) => m.name === newcomer.name && m.state === 'pending'),
      'pending',
    )

    // Without a session: no button, a login link; a forged POST is refused (on plain
    // HTTP before anything else, on HTTPS for want of a session).
    const overHttp = await fetch(new URL('/actions/approve', plain), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `node=${newcomer.name}&csrf=x`,
    })
    assert.equal(overHttp.status, 403)
    const anon = await httpsRequest(new URL('/actions/approve', url).href, {
      caPem,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `node=${newcomer.name}&csrf=x`,
    })
    assert.equal(anon.status, 401)

    const context = await browser!.newContext(DESKTOP)
    const page = await context.newPage()
    const trouble = watchForTrouble(page)
    // From the plain page the login link leads to the HTTPS page, which Chromium trusts
    // through the cluster CA alone (an untrusted certificate would fail the navigation).
    await page.goto(plain)
    // The right password, posted from the plain page, is refused unread and opens nothing.
    const password = (await readFile(join(lab!.dir, 'password.txt'), 'utf8')).trim()
    const plainLogin = await page.evaluate(async (pw) => {
      const r = await fetch('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ password: pw }).toString(),
      })
      return { status: r.status, error: ((await r.json()) as { error: string }).error }
    }, password)
    assert.deepEqual(plainLogin, { status: 403, error: 'PLAIN_HTTP_REFUSED' })
    assert.deepEqual(await context.cookies(), [], 'no session cookie')
    await page.reload()
    await page.getByRole('link', { name: `Log in to approve ${newcomer.name}` }).waitFor()
    await page.getByRole('link', { name: `Log in to approve ${newcomer.name}` }).click()
    await page.getByLabel('Password').fill('wrong password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByText('Wrong password.').waitFor()
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(url)

    // A request with the session cookie but a wrong CSRF token is refused (403).
    const forged = await page.evaluate(async (node) => {
      const r = await fetch('/actions/approve', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `node=${node}&csrf=forged`,
      })
      return r.status
    }, newcomer.name)
    assert.equal(forged, 403)

    const button = page.getByRole('button', { name: `Approve ${newcomer.name}` })
    await button.waitFor()
    await screenshot(page, 'desktop-pending-approve')
    await button.click()
    await page.locator('#nodes').getByText(newcomer.name).first().waitFor()
    await eventually(
      [...lab!.nodes, newcomer],
      (v) => v.members.filter((m) => m.state === 'alive').length === 4,
      'approved node joined',
    )
    await page
      .getByRole('button', { name: `Approve ${newcomer.name}` })
      .waitFor({ state: 'detached', timeout: 30_000 })
    await screenshot(page, 'desktop-approved')
    // The refused login (401) and the forged POST (403) show up as failed loads: expected.
    assert.deepEqual(
      trouble.filter((t) => !/Failed to load resource: .* (401|403)/.test(t)),
      [],
    )
    await context.close()
  })
})
