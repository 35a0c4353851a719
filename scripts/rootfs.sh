#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The guest's root filesystem on a foreign architecture (ARCH with a vng
# field in scripts/harness.py): virtme-ng boots the host's own root on the
# default architecture, whose programs do not run on another. Prints its
# path: $CACHE/rootfs/SUITE-DEBIAN, SUITE the host's Debian release and
# DEBIAN the architecture's (ARCH_DEBIAN).
#
# debootstrap's first stage (--foreign) downloads and unpacks the packages
# from the machine's own mirror (mirror_uri); its second stage would run
# the target's programs, which this host cannot, so every downloaded
# package is unpacked with dpkg-deb and tar instead and no maintainer script runs.
# What the guest needs of them is made here: the passwd and group files
# (base-passwd's), and poweroff, which virtme-ng's init calls (busybox's).
# Built once into ROOT.new, moved to ROOT when complete; again when the
# package list changes (marker ROOT/.autokill-rootfs). As root.
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/chroot.sh
. "$TOP/scripts/chroot.sh"

[ -n "$ARCH_DEBIAN" ] || die "ARCH=$ARCH_NAME boots the host's own root; there is no root filesystem to make"
# What guest.sh and virtme-ng's init run beyond the essential packages:
# python3 (results.py's reruns), busybox (poweroff), procps (ps, kill), udev
# (the links of the virtio console ports virtme-ng talks through);
# util-linux's setsid, su, dmesg are essential. And libcap-dev, which the
# clone3 selftests link with (scripts/selftests.sh takes its headers and
# library from here: Debian has no cross package of it).
PKGS=(python3 busybox-static procps udev libcap-dev)
suite=$(. /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-}")
[ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release: which Debian release is this?"
ROOT=$CACHE/rootfs/$suite-$ARCH_DEBIAN
want="$suite $ARCH_DEBIAN ${PKGS[*]}"
if [ "$(cat "$ROOT/.autokill-rootfs" 2>/dev/null)" = "$want" ]; then
	printf '%s\n' "$ROOT"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "the $ARCH_DEBIAN root filesystem is made with debootstrap: run as root"
uri=$(mirror_uri)
[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
command -v debootstrap >/dev/null ||
	step "apt-get install debootstrap" sh -c \
		"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null" ||
	die "apt-get install debootstrap failed; check the machine's apt sources"
mkdir -p "$CACHE/rootfs" "$LOGS"
exec 7>"$CACHE/rootfs/.lock"
flock 7
tmp=$ROOT.new
for d in "$tmp" "$ROOT"; do
	! mounted_under "$d" || die "something is mounted under $d; unmount it first"
done
rm -rf "$tmp"
log=$LOGS/debootstrap-$suite-$ARCH_DEBIAN.log
inc=$(IFS=,; printf '%s' "${PKGS[*]}")
# shellcheck disable=SC2016 # the arguments of sh -c's own script
step "debootstrap --foreign $suite $ARCH_DEBIAN into $tmp (log: $log)" sh -c \
	'unshare --mount --propagation private -- debootstrap --foreign --arch="$1" --variant=minbase \
		--components=main --include="$2" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$3" "$4" "$5" >"$6" 2>&1' sh "$ARCH_DEBIAN" "$inc" "$suite" "$tmp" "$uri" "$log" ||
	{ tail -20 "$log" >&2; die "debootstrap of $suite for $ARCH_DEBIAN failed (above)"; }
n=0
for deb in "$tmp"/var/cache/apt/archives/*.deb; do
	# Through the merged /usr's links that debootstrap made (/bin ->
	# usr/bin, ...), which dpkg-deb -x would replace with directories.
	dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$tmp" ||
		die "unpacking $deb failed"
	n=$((n + 1))
done
log "unpacked $n packages"
for f in passwd group; do
	[ -f "$tmp/etc/$f" ] || cp "$tmp/usr/share/base-passwd/$f.master" "$tmp/etc/$f" ||
		die "no $f.master in the base-passwd package"
done
[ -e "$tmp/usr/sbin/poweroff" ] || ln -s ../../bin/busybox "$tmp/usr/sbin/poweroff"
# In a container debootstrap links /proc and /sys to the host's instead of
# mounting them: the guest mounts its own there.
for d in proc sys; do
	if [ -L "$tmp/$d" ]; then rm "$tmp/$d" && mkdir "$tmp/$d"; fi
done
rm -rf "$tmp/debootstrap" "$tmp"/var/cache/apt/archives/*.deb
printf '%s\n' "$want" >"$tmp/.autokill-rootfs"
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
log "the $ARCH_DEBIAN root filesystem takes $(du -sh "$ROOT" | cut -f1)"
printf '%s\n' "$ROOT"
