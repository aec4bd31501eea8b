import { grubMarksMax } from './grub-state.js'
import { triesMax } from './types.js'

// grub.cfg of a homecloud disk (pure): GRUB plays the firmware of tries.ts. At every
// boot it reads grubenv, decides exactly as boot() does — a tried slot with tries left
// boots and uses one up *before* it runs; a tried slot out of tries (or half written) is
// given up on and the good slot boots — writes back what it did, and starts the chosen
// slot's kernel. GRUB has no arithmetic: counting down is a chain of comparisons.
//
// The disk (disk-layout.ts): partition 1 the boot partition holding GRUB, this file and
// grubenv; 2 and 3 the slots, each a release (vmlinuz, initrd.img, agent.tar.zst,
// manifest.json) and, written last by an install, slot.json — a slot without it is
// never booted. GRUB finds them on its own disk: `$root` is the boot partition.

export interface GrubScriptInput {
  /** Kernel arguments for the consoles of this kind of machine (the last console= is /dev/console). */
  consoleArgs: readonly string[]
  /** Partition numbers of slot a and b on the boot disk. */
  slotPartitions: { a: number; b: number }
  /** The partition table GRUB names partitions by. */
  table: 'msdos' | 'gpt'
}

/** Kernel arguments by machine: serial consoles where qemu and servers have them, reboot on panic. */
export const DISK_CONSOLE_ARGS = {
  amd64: ['console=tty0', 'console=ttyS0,115200', 'no_timer_check'],
  arm64: ['console=tty0', 'console=ttyAMA0,115200'],
} as const

function countDown(): string[] {
  const lines = ['function hc_use_try {']
  for (let n = triesMax; n >= 1; n--)
    lines.push(`  ${n === triesMax ? 'if' : 'elif'} [ "$hc_tries" = ${n} ]; then set hc_tries=${n - 1}`)
  lines.push('  else set hc_tries=0', '  fi', '}')
  return lines
}

const triesRange = () => Array.from({ length: triesMax }, (_, i) => i + 1).join('|')

export function renderGrubCfg(input: GrubScriptInput): string {
  const { a, b } = input.slotPartitions
  const t = input.table
  const args = [...input.consoleArgs, 'panic=-1', 'quiet'].join(' ')
  return [
    '# homecloud: A/B boot counting (agent/slots/grub-script.ts). Written with the disk; do not edit.',
    'if [ "$grub_platform" = pc ]; then serial --unit=0 --speed=115200; terminal_input serial console; terminal_output serial console; fi',
    'set timeout=0',
    'set hc_good=a',
    'set hc_trying=',
    'set hc_tries=0',
    'set hc_booted=',
    'set hc_fallback=',
    'set hc_marks=',
    'load_env hc_good hc_trying hc_tries hc_booted hc_fallback hc_marks',
    // `$root` is the boot partition (hd0,msdos1): the slots are on the same disk.
    `regexp --set=1:hc_disk '^([^,]+),' "$root"`,
    `set hc_part_a=($hc_disk,${t}${a})`,
    `set hc_part_b=($hc_disk,${t}${b})`,
    ...countDown(),
    'set hc_mode=good',
    'set hc_slot=',
    'set hc_tp=',
    'if [ "$hc_trying" = a ]; then set hc_tp=$hc_part_a; elif [ "$hc_trying" = b ]; then set hc_tp=$hc_part_b; else set hc_trying=; set hc_tries=0; fi',
    'if [ -n "$hc_trying" ]; then',
    '  set hc_ok=0',
    // Tries left are 1…triesMax, spelled out: anything else (a hand-edited block) is none left.
    `  if [ -f $hc_tp/slot.json ]; then if regexp '^(${triesRange()})$' "$hc_tries"; then set hc_ok=1; fi; fi`,
    '  if [ $hc_ok = 1 ]; then',
    '    hc_use_try',
    '    set hc_slot=$hc_trying',
    '    set hc_mode=trying',
    '  else',
    // Out of tries: give the slot up and say so (only if it held a release, as boot() does).
    '    if [ -f $hc_tp/slot.json ]; then set hc_fallback=$hc_trying; fi',
    '    set hc_trying=',
    '    set hc_tries=0',
    '    set hc_mode=fallback',
    '  fi',
    'fi',
    'if [ -z "$hc_slot" ]; then',
    '  set hc_gp=',
    '  if [ "$hc_good" = a ]; then set hc_gp=$hc_part_a; elif [ "$hc_good" = b ]; then set hc_gp=$hc_part_b; fi',
    '  if [ -n "$hc_gp" ]; then if [ -f $hc_gp/slot.json ]; then set hc_slot=$hc_good; fi; fi',
    'fi',
    'set hc_booted=$hc_slot',
    // One mark per boot, so the agent can count boots (bounded: the block has 1024 bytes).
    `if regexp '^x{0,${grubMarksMax - 1}}$' "$hc_marks"; then set hc_marks="\${hc_marks}x"; fi`,
    'save_env hc_trying hc_tries hc_booted hc_fallback hc_marks',
    'if [ -z "$hc_slot" ]; then',
    '  echo "homecloud: no slot to boot (good slot: $hc_good). Write the disk image again."',
    '  sleep 60',
    '  halt',
    'fi',
    'if [ $hc_slot = a ]; then set hc_sp=$hc_part_a; else set hc_sp=$hc_part_b; fi',
    'probe --fs-uuid --set=hc_uuid $hc_sp',
    'echo "homecloud: slot $hc_slot ($hc_mode, tries left $hc_tries)"',
    `linux $hc_sp/vmlinuz ${args} homecloud.firmware=grub homecloud.slot=$hc_slot homecloud.slotfs=$hc_uuid homecloud.bootmode=$hc_mode`,
    'initrd $hc_sp/initrd.img',
    'boot',
    // Only reached when the slot could not be started: a tried slot has used its try
    // and the next boot counts on; the good one cannot be helped from here.
    'echo "homecloud: slot $hc_slot did not start"',
    'sleep 10',
    'if [ $hc_mode = trying ]; then reboot; fi',
    'halt',
    '',
  ].join('\n')
}
