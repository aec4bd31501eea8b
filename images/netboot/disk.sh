# Sourced by /init when this kernel was booted from a slot of a homecloud disk (GRUB's
# grub.cfg, agent/slots/grub-script.ts, names it on the kernel command line):
#   homecloud.slot=a|b          the slot that booted
#   homecloud.slotfs=XXXX-XXXX  its FAT volume id (GRUB's probe --fs-uuid)
# The disk (agent/slots/disk-layout.ts): 1 boot (grubenv, homecloud/ first-boot settings),
# 2/3 slots a/b, 4 state (ext4 "homecloud-state"). The release comes from the booted slot,
# checked against its manifest exactly as a netbooted one is; the node's state lives on
# the state partition, so it survives a power cut.
SLOT=$(param slot)
SLOTFS=$(param slotfs)
SLOTDIR=/run/slots/$SLOT
BOOTDIR=/boot

# The partitions of the disk the slot is on: vda → vda1…; nvme0n1 / mmcblk0 → …p1.
disk_mount() {
	case $SLOT in a | b) ;; *) refuse "homecloud.slot=$SLOT: the slot is a or b" ;; esac
	dev=''
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		dev=$(findfs "UUID=$SLOTFS" 2>/dev/null) && break
		sleep 1
	done
	[ -n "$dev" ] || refuse "no partition has the filesystem id $SLOTFS of slot $SLOT (is the disk's driver in the initramfs?)"
	disk=$(basename "$(readlink -f "/sys/class/block/${dev#/dev/}/..")")
	case $disk in *[0-9]) p=/dev/${disk}p ;; *) p=/dev/$disk ;; esac
	want=${p}2
	[ "$SLOT" = b ] && want=${p}3
	[ "$dev" = "$want" ] || refuse "slot $SLOT booted from $dev, the disk layout says $want"
	mkdir -p "$BOOTDIR" /run/slots/a /run/slots/b /var/lib/homecloud
	mount -t vfat -o noatime "${p}1" "$BOOTDIR" || refuse "cannot mount the boot partition ${p}1"
	mount -t vfat -o noatime "${p}2" /run/slots/a || refuse "cannot mount slot a (${p}2)"
	mount -t vfat -o noatime "${p}3" /run/slots/b || refuse "cannot mount slot b (${p}3)"
	[ "$(findfs LABEL=homecloud-state 2>/dev/null)" = "${p}4" ] || refuse "${p}4 is not labelled homecloud-state"
	mount -t ext4 -o noatime "${p}4" /var/lib/homecloud || refuse "cannot mount the state partition ${p}4"
	# The release id is slot.json's (written last by an install: without it the slot is not a release).
	IMAGE=$(sed -n 's/.*"releaseId":"\([0-9a-f]\{64\}\)".*/\1/p' "$SLOTDIR/slot.json" 2>/dev/null)
	[ -n "$IMAGE" ] || refuse "slot $SLOT has no slot.json: it was never completely written"
	say "disk ${disk}: slot $SLOT ($(param bootmode)), release ${IMAGE%"${IMAGE#????????????}"}, state on ${p}4"
}

# config.json, join material and the first boot's founding: `homecloud disk-boot`
# (cli/commands/disk-boot.ts), which also prints the status URL and join policy.
disk_config() {
	"$(echo "$N"/lib/ld-linux-*)" --library-path "$N/lib" "$N/node" /opt/homecloud/app/bin/homecloud.js \
		disk-boot --boot "$BOOTDIR/homecloud" --state "$STATE" --host "$ADDR" --mac "$MAC" \
		--config-extra "{${KUBE#, }}" >/run/disk-boot.env 2>/dev/console ||
		refuse "the first-boot settings on the boot partition could not be applied (see above)"
	NAME=$(sed -n 's/^name=//p' /run/disk-boot.env)
}
