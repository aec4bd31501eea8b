import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { writeFileAtomic } from '../../../agent/core/files.js'
import { readImage } from '../../../agent/netboot/manifest.js'
import { checkReleaseFiles, readReleaseDir } from '../../../agent/release/dir.js'
import { makeRelease } from '../../../agent/release/make.js'
import { summarize } from '../../../agent/release/manifest.js'
import {
  assertSigned,
  generateReleaseKey,
  readPublicKeyArg,
  readReleaseKey,
  SIGNATURE_FILE,
  signManifest,
  writeReleaseKey,
} from '../../../agent/release/signature.js'
import { AGENT_VERSION } from '../../../agent/version.js'
import { ensureNetbootImage } from '../../../lab/netboot/image.js'

// The release commands that need no cluster: make a key, build, sign, verify.

const out = (line: string) => process.stdout.write(`${line}\n`)
const progress = (line: string) => process.stderr.write(`  … ${line}\n`)

export function releasesCacheDir(): string {
  return join(process.env.HOMECLOUD_CACHE ?? join(homedir(), '.cache', 'homecloud'), 'releases')
}

export function keygenCommand(): Command {
  return new Command('keygen')
    .description('make a release signing key (ed25519): KEY (private, 0600) and KEY.pub')
    .requiredOption('--out <file>', 'where to write the private key')
    .action(async (opts: { out: string }) => {
      const key = generateReleaseKey()
      await writeReleaseKey(opts.out, key)
      out(`release key written to ${opts.out} (keep it off the cluster); public key in ${opts.out}.pub:`)
      out(key.publicHex)
      out(
        `trust it at init: homecloud init --release-key ${opts.out}.pub, or later: homecloud release trust ${opts.out}.pub`,
      )
    })
}

export function buildCommand(): Command {
  return new Command('build')
    .description('build the netboot image (images/netboot/build.sh) and make a release directory of it')
    .option('--kube', 'the Kubernetes node image (kubelet, containerd)')
    .addOption(new Option('--arch <arch>', 'architecture').choices(['amd64', 'arm64']).default('amd64'))
    .option(
      '--version <v>',
      'stamp this release version into the image and its agent (default: package version + image hash)',
    )
    .option('--test-exit-at-start', 'tests only: a release whose agent exits at start')
    .option('--from <dir>', 'an image directory already built (skips build.sh)')
    .option('--out <dir>', 'release directory (default: the cache, by version)')
    .option('--piece-mb <n>', 'piece size in MiB', (v) => Number.parseFloat(v), 4)
    .action(
      async (opts: {
        kube?: boolean
        arch: 'amd64' | 'arm64'
        version?: string
        testExitAtStart?: boolean
        from?: string
        out?: string
        pieceMb: number
      }) => {
        const from =
          opts.from ??
          (await ensureNetbootImage(progress, {
            kube: !!opts.kube,
            arch: opts.arch,
            ...(opts.version ? { version: opts.version } : {}),
            testExitAtStart: !!opts.testExitAtStart,
          }))
        // The image's manifest carries the version its agent announces (build.sh stamps both).
        const stamped = await readImage(from)
          .then((i) => i.manifest.version)
          .catch(() => null)
        const version = opts.from && opts.version ? opts.version : (stamped ?? opts.version ?? AGENT_VERSION)
        const dir = resolve(opts.out ?? join(releasesCacheDir(), `${version}-${opts.arch}`))
        progress(`hashing ${from} in ${opts.pieceMb} MiB pieces`)
        const r = await makeRelease({
          from,
          out: dir,
          version,
          arch: opts.arch,
          pieceBytes: Math.round(opts.pieceMb * 1024 * 1024),
        })
        const s = summarize(r)
        progress(
          `release ${s.version} (${s.arch}${s.kube ? ', kube' : ''}): ${(s.bytes / 1e6).toFixed(1)} MB in ${s.pieces} pieces, id ${s.id}`,
        )
        progress(`next: homecloud release sign ${dir} --key KEY`)
        out(dir)
      },
    )
}

export function signCommand(): Command {
  return new Command('sign')
    .description('sign a release directory with a release key (writes DIR/release.sig)')
    .argument('<dir>', 'release directory')
    .requiredOption('--key <file>', 'private release key (homecloud release keygen)')
    .action(async (dir: string, opts: { key: string }) => {
      const key = await readReleaseKey(opts.key)
      const d = await readReleaseDir(dir)
      await checkReleaseFiles(d)
      const sig = signManifest(d.release.manifestBytes, key)
      await writeFileAtomic(join(dir, SIGNATURE_FILE), `${JSON.stringify(sig)}\n`, 0o644)
      out(
        `signed release ${d.release.manifest.version} (${d.release.id}) with key ${key.publicHex.slice(0, 16)}…`,
      )
    })
}

export function verifyCommand(): Command {
  return new Command('verify')
    .description('check a release directory: signature by the given key, every file and piece')
    .argument('<dir>', 'release directory')
    .requiredOption('--key <pub>', 'trusted public key (hex or KEY.pub)')
    .action(async (dir: string, opts: { key: string }) => {
      const d = await readReleaseDir(dir)
      assertSigned(d.release.manifestBytes, d.sigText, new Set([await readPublicKeyArg(opts.key)]))
      await checkReleaseFiles(d)
      const s = summarize(d.release)
      out(`release ${s.version} (${s.arch}) ${s.id}: signature good, ${s.pieces} pieces match`)
    })
}
