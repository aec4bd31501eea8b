import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { renderStatusPage } from '../../../../agent/api/page/document.js'
import { SLOW_DISK_WARNING, SLOW_FSYNC_MS } from '../../../../agent/api/page/nodes.js'
import { verdict } from '../../../../agent/api/page/verdict.js'
import { DEFAULT_PLACEMENT_POLICY } from '../../../../control/placement/policy.js'
import { clusterView, member, NOW } from './fixtures.js'

const EVIL = '<img src=x onerror=alert(1)>'
const PAGE_TAGS = new Set(
  'html head meta link noscript title style script body header nav span main section h3 div svg line polyline h1 h2 ul ol li p strong code table thead tbody tr th td a small dl dt dd time form input button footer'.split(
    ' ',
  ),
)

/** Every tag in the page is one we write, and none carries an event handler. */
function assertInert(html: string): void {
  for (const [, tag] of html.matchAll(/<\/?([a-zA-Z][^\s/>]*)/g))
    assert.ok(PAGE_TAGS.has(tag!), `unexpected <${tag}>`)
  assert.doesNotMatch(html, /<[^>]*\son[a-z]+\s*=/i)
  assert.equal(html.match(/<script/g)?.length, 1, 'only our own module script')
  assert.match(html, /<script type="module" src="\/assets\/status.js"><\/script>/)
}

/** The section with this id, as HTML. */
function section(html: string, id: string): string {
  const m = new RegExp(`<section id="${id}"[\\s\\S]*?</section>`).exec(html)
  return m ? m[0] : ''
}

function rowOf(html: string, name: string): string {
  return (
    [...html.matchAll(/<tr class="member[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes(name)) ??
    ''
  )
}

describe('status page: escaping', () => {
  test('a node named like markup renders as text, everywhere it appears', () => {
    const evil = member({ name: EVIL, board: `<b>${EVIL}</b>`, version: '"><script>alert(1)</script>' })
    const view = clusterView({ cluster: { id: 'c0ffee', name: `</title>${EVIL}` } }, [
      member({ name: 'pi5-1', self: true, lastSeenMs: NOW }),
      evil,
      member({ name: 'dead-one', state: 'dead', stateSinceMs: NOW - 120_000, lastSeenMs: NOW - 125_000 }),
    ])
    view.events.push({
      atMs: NOW - 1000,
      kind: '<x>',
      id: evil.id,
      name: EVIL,
      message: `${EVIL} joined the mesh`,
    })
    const html = renderStatusPage(view, NOW)
    assertInert(html)
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'))
    assert.ok(html.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'))
    assert.ok(!html.includes(EVIL))
  })

  test('only plain http(s) links are rendered as links', () => {
    const view = clusterView({}, [
      member({ name: 'pi5-1', self: true }),
      member({ name: 'js', url: 'javascript:alert(1)' }),
      member({ name: 'creds', url: 'http://user:pw@10.0.0.1:7080/' }),
      member({ name: 'quote', url: 'http://10.0.0.2:7080/"onmouseover="x' }),
    ])
    const html = renderStatusPage(view, NOW)
    assertInert(html)
    assert.doesNotMatch(html, /href="javascript/i)
    assert.doesNotMatch(html, /user:pw/)
    assert.ok(!html.includes('"onmouseover'))
  })
})

describe('status page: nodes', () => {
  test('slow disks are flagged: fsync p99 above etcd’s limit', () => {
    assert.equal(SLOW_FSYNC_MS, DEFAULT_PLACEMENT_POLICY.fsyncP99MsMax)
    const view = clusterView({}, [
      member({ name: 'fast', self: true, fsyncP99Ms: 2.5 }),
      member({ name: 'edge', fsyncP99Ms: 10 }),
      member({ name: 'slow', storageClass: 'sd', fsyncP99Ms: 40 }),
      member({ name: 'unknown', fsyncP99Ms: null }),
    ])
    const html = renderStatusPage(view, NOW)
    assert.ok(rowOf(html, '>slow<').includes(SLOW_DISK_WARNING))
    assert.ok(rowOf(html, '>slow<').includes('sd · fsync p99 40 ms'))
    for (const n of ['>fast<', '>edge<', '>unknown<'])
      assert.ok(!rowOf(html, n).includes(SLOW_DISK_WARNING), n)
    assert.ok(rowOf(html, '>unknown<').includes('fsync not measured'))
    assert.equal(html.split(SLOW_DISK_WARNING).length - 1, 1)
  })

  test('the node the page is on is marked, once', () => {
    const html = renderStatusPage(clusterView(), NOW)
    assert.equal(html.match(/you are here/g)?.length, 1)
    const self = rowOf(html, 'pi5-1')
    assert.match(self, /member-self/)
    assert.match(self, /you are here/)
    assert.match(self, /this node/)
    assert.doesNotMatch(rowOf(html, 'rock5b-2'), /member-self|you are here/)
  })

  test('every column is there, with a label for the phone layout', () => {
    const view = clusterView()
    const html = renderStatusPage(view, NOW)
    const row = rowOf(html, 'pi4-3')
    for (const label of [
      'Node',
      'Board',
      'Arch',
      'Roles',
      'State',
      'Last seen',
      'Version',
      'Storage',
      'Addresses',
    ])
      assert.ok(row.includes(`data-label="${label}"`), label)
    const m = view.members[2]!
    for (const text of [m.board, 'arm64', 'worker', 'alive', 'just now', '0.1.0', m.addresses[0]!])
      assert.ok(row.includes(text), text)
  })

  test('a dead node shows how long ago it was last heard', () => {
    const view = clusterView({}, [
      member({ name: 'me', self: true }),
      member({ name: 'gone', state: 'dead', lastSeenMs: NOW - 7_200_000, stateSinceMs: NOW - 7_197_000 }),
    ])
    assert.match(rowOf(renderStatusPage(view, NOW), 'gone'), /data-label="Last seen">2 h ago</)
  })
})

describe('status page: other sections', () => {
  test('links to the same page on every other node, not to this one', () => {
    const view = clusterView()
    view.members[2]!.state = 'dead'
    const links = section(renderStatusPage(view, NOW), 'links')
    assert.ok(links.includes(`<a href="${view.members[1]!.url}">rock5b-2</a>`))
    assert.ok(links.includes(`<a href="${view.members[2]!.url}">pi4-3 (dead)</a>`))
    assert.ok(!links.includes(view.members[0]!.url))
  })

  test('control plane: voters by name, coordinator not running yet', () => {
    const view = clusterView()
    const html = section(renderStatusPage(view, NOW), 'control-plane')
    assert.match(html, /<dt>Coordinator<\/dt><dd>not running yet<\/dd>/)
    assert.match(html, /<dt>Voters<\/dt><dd>none yet \(etcd is not running\)<\/dd>/)
    const ids = view.members.map((m) => m.id)
    view.controlPlane = { voters: ids, learners: [], leader: ids[1]!, quorum: true, source: 'etcd' }
    view.coordinator = ids[0]!
    const etcd = section(renderStatusPage(view, NOW), 'control-plane')
    assert.match(etcd, /<dt>Voters<\/dt><dd>pi5-1, rock5b-2, pi4-3<\/dd>/)
    assert.match(etcd, /<dt>Leader<\/dt><dd>rock5b-2<\/dd>/)
    assert.match(etcd, /<dt>Coordinator<\/dt><dd>pi5-1<\/dd>/)
  })

  test('timeline: newest first, with times', () => {
    const html = section(renderStatusPage(clusterView(), NOW), 'timeline')
    const items = [
      ...html.matchAll(
        /<li[^>]*><time datetime="([^"]+)"[^>]*>([^<]+)<\/time> <span class="event-message">([^<]+)</g,
      ),
    ]
    assert.deepEqual(
      items.map((m) => [m[2], m[3]]),
      [
        ['13:59:30 UTC', 'pi4-3 joined the mesh'],
        ['13:59:00 UTC', 'rock5b-2 joined the mesh'],
      ],
    )
    assert.equal(items[0]![1], new Date(NOW - 30_000).toISOString())
  })

  test('pending joins appear only when someone waits, with a code and a plain form', () => {
    assert.equal(section(renderStatusPage(clusterView(), NOW), 'pending'), '')
    const view = clusterView()
    view.members.push(
      member({ id: 'abcdef0123456789abcd', name: 'new-pi', state: 'pending', stateSinceMs: NOW - 5000 }),
    )
    const html = renderStatusPage(view, NOW)
    const pending = section(html, 'pending')
    assert.match(pending, /<code class="short-code">ABCD-EF01<\/code>/)
    // Not logged in: a way to log in, no button.
    assert.match(pending, /<a href="\/login" class="login">Log in to approve new-pi<\/a>/)
    assert.doesNotMatch(pending, /<form/)
    // Logged in: a plain form carrying the session's CSRF token (works without JavaScript).
    const loggedIn = section(renderStatusPage(view, NOW, { csrf: 'tok<en>' }), 'pending')
    assert.match(
      loggedIn,
      /<form method="post" action="\/actions\/approve" class="approve"><input type="hidden" name="node" value="abcdef0123456789abcd"><input type="hidden" name="csrf" value="tok&lt;en&gt;"><button type="submit">Approve new-pi<\/button><\/form>/,
    )
    assert.equal(verdict(view, NOW).level, 'healthy')
    assert.match(section(html, 'verdict'), /1 node waiting for approval/)
  })

  test('complete without JavaScript: no bare refresh, a noscript one instead', () => {
    const html = renderStatusPage(clusterView(), NOW)
    assert.match(html, /<noscript><meta http-equiv="refresh" content="10"><\/noscript>/)
    assert.equal(html.match(/http-equiv="refresh"/g)?.length, 1)
  })

  test('pure: the same view and time give the same page', () => {
    const view = clusterView()
    assert.equal(renderStatusPage(view, NOW), renderStatusPage(structuredClone(view), NOW))
    assert.notEqual(renderStatusPage(view, NOW), renderStatusPage(view, NOW + 3_600_000 * 30))
  })
})

describe('status page: joining', () => {
  test('the code a pending node reports is the one shown', () => {
    const view = clusterView()
    view.members.push(member({ name: 'new-pi', state: 'pending', code: 'K7Q-42X', url: '', addresses: [] }))
    const pending = section(renderStatusPage(view, NOW), 'pending')
    assert.match(pending, /<code class="short-code">K7Q-42X<\/code>/)
    assert.match(pending, /homecloud approve NODE/)
  })

  test('on a node that is itself waiting: the verdict says so, and there is no button to approve itself', () => {
    const view = clusterView({}, [
      member({ name: 'newcomer', self: true, state: 'pending', code: 'ABC-123' }),
      member({ name: 'pi5-1' }),
    ])
    const v = verdict(view, NOW)
    assert.equal(v.level, 'waiting')
    assert.equal(v.headline, 'Waiting for approval: code ABC-123')
    const html = renderStatusPage(view, NOW)
    assert.doesNotMatch(section(html, 'pending'), /<form/)
    assert.match(section(html, 'pending'), /approve it from the page of a node that is already a member/)
  })
})

describe('status page: the state disk', () => {
  test("a netbooted node's own page says which disk holds its state, or why none, as text", () => {
    const onDisk = clusterView({}, [
      member({
        name: 'pxe-4c0104',
        self: true,
        stateDisk: 'on /dev/vdb (labelled homecloud-state, 252 MiB free)',
      }),
      member({ name: 'pi5-2' }),
    ])
    assert.match(
      renderStatusPage(onDisk, NOW),
      /<p id="state-disk" class="state-disk">This node&#39;s state is on \/dev\/vdb \(labelled homecloud-state, 252 MiB free\)\.<\/p>/,
    )
    const evil = clusterView({}, [member({ name: 'pxe-1', self: true, stateDisk: `in RAM: ${EVIL}` })])
    const html = renderStatusPage(evil, NOW)
    assertInert(html)
    assert.ok(!html.includes(EVIL))
    assert.doesNotMatch(renderStatusPage(clusterView(), NOW), /state-disk/)
  })
})
