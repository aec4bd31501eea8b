import { join } from 'node:path'
import { systemClock } from '../agent/core/clock.js'
import { readReleaseDir } from '../agent/release/dir.js'
import { unpackBundle } from '../agent/slots/bundle.js'
import { BOOT_FILE } from '../agent/slots/lab.js'
import { readBootStateFile, writeBootStateFile } from '../agent/slots/state-file.js'
import { provisionedBootState } from '../agent/slots/tries.js'

// A slotted lab node is provisioned like a machine flashed with one release: its agent
// bundle unpacked into slot a, slot a good, slot b empty. A node provisioned before
// (`lab plug`, a lab up again in the same directory) keeps what it has.

export async function provisionSlots(releaseDir: string, slotsDir: string): Promise<string> {
  if (await readBootStateFile(join(slotsDir, BOOT_FILE))) return slotsDir
  const { release } = await readReleaseDir(releaseDir)
  await unpackBundle(release, releaseDir, join(slotsDir, 'a'))
  await writeBootStateFile(
    join(slotsDir, BOOT_FILE),
    provisionedBootState({
      releaseId: release.id,
      version: release.manifest.version,
      installedAtMs: systemClock().nowMs(),
    }),
  )
  return slotsDir
}
