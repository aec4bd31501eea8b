// Run by scripts/test.sh on exit: stops every process and namespace a test lab
// left behind (a crashed or interrupted test), and nothing else.
import { readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeLabTaps } from '../../lab/netboot/network.js'
import { destroyLabNetwork, listLabNamespaces } from '../../lab/netns/index.js'
import { LAB_ENV } from '../../lab/processes.js'
import { testLabPrefix } from './lab.js'

const testPrefix = join(tmpdir(), testLabPrefix())
let killed = 0
for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number)) {
  const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')
  const dir = env.split('\0').find((e) => e.startsWith(`${LAB_ENV}=`))
  if (dir?.slice(LAB_ENV.length + 1).startsWith(testPrefix)) {
    try {
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {}
  }
}
// A namespace belongs to a test lab if its index claim points at a test lab dir or at nothing.
const locks = join(tmpdir(), 'homecloud-labs')
const indexes = new Set((await listLabNamespaces().catch(() => [])).map((n) => n.labIndex))
for (const index of indexes) {
  const owner = await readFile(join(locks, String(index), 'owner'), 'utf8').catch(() => '')
  if (owner === '' || owner.startsWith(testPrefix)) {
    await removeLabTaps(index).catch(() => {})
    await destroyLabNetwork(index).catch(() => {})
    await rm(join(locks, String(index)), { recursive: true, force: true })
  }
}
if (killed > 0 || indexes.size > 0)
  process.stderr.write(`reaper: killed ${killed} test processes, checked ${indexes.size} lab networks\n`)
