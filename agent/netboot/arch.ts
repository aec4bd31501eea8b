import { z } from 'zod'

// iPXE's ${buildarch} → the image architecture that boots there. BIOS iPXE
// (undionly.kpxe, the ROMs) is an i386 build even on 64-bit machines.
export const IpxeArch = z.enum(['i386', 'x86_64', 'arm64'])
export type IpxeArch = z.infer<typeof IpxeArch>

export type ImageArch = 'amd64' | 'arm64'

export function imageArchFor(arch: IpxeArch): ImageArch {
  return arch === 'arm64' ? 'arm64' : 'amd64'
}
