import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ClusterViewSchema } from '../../../../agent/api/cluster-schema.js'
import { renderStatusPage } from '../../../../agent/api/page/document.js'
import { servicesSection } from '../../../../agent/api/page/services.js'
import { toHtml } from '../../../../agent/api/page/to-html.js'
import { clusterView, member, NOW } from './fixtures.js'

const EVIL = '<img src=x onerror=alert(1)>'

describe('status page: Services on the LAN', () => {
  test('absent without Kubernetes; a line while there is none', () => {
    assert.equal(servicesSection(clusterView()), null)
    const html = toHtml(servicesSection({ ...clusterView(), services: [] })!)
    assert.match(html, /Services on the LAN \(0\)/)
    assert.match(html, /kube\.loadBalancer\.addresses/)
  })

  test('each Service with its LAN address, ports and the node answering; a dead node is flagged', () => {
    const a = member({ name: 'x86-4', self: true })
    const b = member({ name: 'x86-5', state: 'dead' })
    const view = {
      ...clusterView({}, [a, b]),
      services: [
        { namespace: 'default', name: 'web', addresses: ['10.77.1.64'], ports: ['80/tcp'], node: 'x86-4' },
        {
          namespace: 'media',
          name: 'jellyfin',
          addresses: ['10.77.1.65'],
          ports: ['8096/tcp'],
          node: 'x86-5',
        },
        { namespace: 'default', name: 'pending', addresses: [], ports: ['443/tcp'], node: null },
      ],
    }
    assert.equal(ClusterViewSchema.safeParse(view).success, true)
    const html = toHtml(servicesSection(view)!)
    assert.match(
      html,
      /<td data-label="Service">default\/web<\/td><td data-label="LAN address">10\.77\.1\.64<\/td>/,
    )
    assert.match(html, /<td data-label="Answered by">x86-4<\/td>/)
    assert.match(html, /x86-5<span class="warn"> ⚠ dead<\/span>/)
    assert.match(html, /waiting for an address/)
    // The whole page carries the section, after the control plane.
    const page = renderStatusPage(view, NOW)
    assert.ok(page.indexOf('id="services"') > page.indexOf('id="control-plane"'))
  })

  test('names from the cluster are escaped', () => {
    const view = {
      ...clusterView(),
      services: [{ namespace: EVIL, name: EVIL, addresses: [EVIL], ports: [EVIL], node: EVIL }],
    }
    const html = toHtml(servicesSection(view)!)
    assert.equal(html.includes('<img'), false)
    assert.match(html, /&lt;img/)
  })
})
