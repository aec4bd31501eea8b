import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NetbootConfig } from './config.js'
import { GRUB_EFI_FILE, grubImageFor } from './grub.js'
import type { NetbootImage } from './manifest.js'
import { renderPiCmdline, renderPiConfigTxt } from './rpi.js'
import { type TftpEntry, type TftpLayoutInput, tftpLayout } from './tftp-layout.js'

// What this node's TFTP root should hold right now: iPXE always; and from the arm64 image
// it serves (which may arrive, or change, with a release at any time) GRUB with this
// node's address written in, and with Raspberry Pi boot on, the Pi's files and its
// config.txt and command lines (the live peers, so they are re-rendered every time).

export interface BootFilesInit {
  config: Pick<NetbootConfig, 'ipxeDir' | 'raspberryPi' | 'peersMax'>
  /** This node's netboot URL (http://HOST:PORT/netboot). */
  baseUrl: string
  clusterId: string
  peers: () => string[]
  /** The cluster's state-disk policy (absent or labelled-only: not on the line). */
  stateDiskPolicy?: () => 'labelled-only' | 'adopt-empty' | undefined
}

export class BootFiles {
  /** GRUB patched for this node, for the arm64 image it was read from. */
  private grub: { imageId: string; bytes: Buffer } | null = null

  constructor(private readonly init: BootFilesInit) {}

  async entries(arm64: NetbootImage | null): Promise<TftpEntry[]> {
    const cfg = this.init.config
    const grub = arm64 ? await this.grubFor(arm64) : undefined
    let pi: TftpLayoutInput['pi']
    if (arm64 && cfg.raspberryPi.enabled) {
      const statedisk = this.init.stateDiskPolicy?.()
      const params = {
        url: this.init.baseUrl,
        image: arm64.id,
        cluster: this.init.clusterId,
        peers: this.init.peers().slice(0, cfg.peersMax),
        ...(statedisk && statedisk !== 'labelled-only' ? { statedisk } : {}),
      }
      pi = {
        imageDir: arm64.dir,
        serials: cfg.raspberryPi.serials,
        configTxt: renderPiConfigTxt(),
        cmdlines: { pi4: renderPiCmdline(params, 'pi4'), pi5: renderPiCmdline(params, 'pi5') },
      }
    }
    return tftpLayout({ ipxeDir: cfg.ipxeDir, grub, pi })
  }

  private async grubFor(image: NetbootImage): Promise<Buffer | undefined> {
    if (!(GRUB_EFI_FILE in image.manifest.files)) return undefined
    if (this.grub?.imageId !== image.id) {
      const template = await readFile(join(image.dir, GRUB_EFI_FILE))
      this.grub = { imageId: image.id, bytes: grubImageFor(template, new URL(this.init.baseUrl).host) }
    }
    return this.grub.bytes
  }
}
