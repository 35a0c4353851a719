#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Debian chroots in the cache, for what this Debian 12 host lacks: the
# minimum Rust toolchain (min-toolchain.sh) and a QEMU new enough for some
# architectures (kunit.sh, the matrix table's qemu_suite). Sourced after
# lib.sh; made by debootstrap from the machine's own mirror (mirror_uri).

# debootstrap, chroot: /usr/sbin, not on every user's PATH.
export PATH=$PATH:/usr/sbin:/sbin

# in_chroot DIR [ro:PATH|rw:PATH]... -- [VAR=VALUE]... CMD...: CMD in the
# chroot DIR with a clean environment, /proc and /dev, and each PATH
# bind-mounted (read-only or read-write) at the same path inside, in a
# private mount namespace. unshare's default propagation is private: no
# mount made there reaches the host's namespace, and all of them go when
# CMD ends, however it ends.
in_chroot() {
	unshare --mount --propagation private -- \
		bash -euc "$(declare -f chroot_mounted); chroot_mounted \"\$@\"" bash "$@"
}
chroot_mounted() {
	local root=$1 m
	shift
	mount -t proc proc "$root/proc"
	# With /dev/pts, where apt-get writes its terminal log.
	mount --rbind /dev "$root/dev"
	while [ "$1" != -- ]; do
		m=${1#*:}
		mkdir -p "$root$m"
		mount --bind "$m" "$root$m"
		case "$1" in
		ro:*) mount -o remount,bind,ro "$root$m" ;;
		rw:*) ;;
		*) printf 'error: in_chroot: %s is not ro:PATH or rw:PATH\n' "$1" >&2; exit 2 ;;
		esac
		shift
	done
	shift
	exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# mounted_under DIR: something is mounted at or below DIR in this
# namespace (a mount left by hand): never delete such a tree.
mounted_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# bootstrap SUITE DIR URI: the base system of SUITE from URI into DIR,
# its output to $LOGS/debootstrap-SUITE.log.
bootstrap() {
	unshare --mount --propagation private -- debootstrap --variant=minbase \
		--components=main --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$1" "$2" "$3" >"$LOGS/debootstrap-$1.log" 2>&1
}

# chroot_root SUITE: where the chroot of SUITE is.
chroot_root() {
	printf '%s\n' "$CACHE/chroot/$1"
}

# make_chroot SUITE PURPOSE PKG...: the chroot of Debian SUITE at
# $(chroot_root SUITE): the base system once, by debootstrap into ROOT.new,
# moved to ROOT when complete (marker .autokill-base); then the packages
# PURPOSE needs, installed again whenever that list changes (marker
# .autokill-packages.PURPOSE: the list). Purposes share the chroot: what
# one installs the other keeps. As root.
make_chroot() {
	local SUITE=$1 purpose=$2 uri d ROOT tmp
	shift 2
	local PKGS=("$@")
	ROOT=$(chroot_root "$SUITE")
	tmp=$ROOT.new
	mkdir -p "$CACHE/chroot"
	# One creator at a time.
	exec 7>"$CACHE/chroot/.lock"
	flock 7
	if [ ! -f "$ROOT/.autokill-base" ]; then
		uri=$(mirror_uri)
		[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
		if ! dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q 'install ok installed'; then
			step "apt-get install debootstrap" sh -c \
				"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null" ||
				die "apt-get install debootstrap failed; check the machine's apt sources"
		fi
		for d in "$tmp" "$ROOT"; do
			! mounted_under "$d" || die "something is mounted under $d; unmount it first"
		done
		rm -rf "$tmp" "$ROOT"
		mkdir -p "$LOGS"
		# minbase: dpkg, apt and the essential packages; the rest comes
		# from apt-get below, which resolves dependencies as apt does.
		# In its own mount namespace too: debootstrap mounts /proc and
		# /sys in the target while it works.
		step "debootstrap $SUITE into $tmp (log: $LOGS/debootstrap-$SUITE.log)" \
			bootstrap "$SUITE" "$tmp" "$uri" ||
			{ tail -20 "$LOGS/debootstrap-$SUITE.log" >&2; die "debootstrap of $SUITE failed (above)"; }
		# No package may start a service in the chroot: invoke-rc.d asks
		# policy-rc.d, and 101 is "action forbidden".
		printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
		chmod 755 "$tmp/usr/sbin/policy-rc.d"
		date -u +%FT%TZ >"$tmp/.autokill-base"
		mv "$tmp" "$ROOT"
	fi
	if [ "$(cat "$ROOT/.autokill-packages.$purpose" 2>/dev/null)" != "${PKGS[*]}" ]; then
		rm -f "$ROOT/.autokill-packages.$purpose"
		step "apt-get install (in the $SUITE chroot) ${PKGS[*]}" \
			in_chroot "$ROOT" -- DEBIAN_FRONTEND=noninteractive sh -c \
			'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null && apt-get clean' \
			sh "${PKGS[@]}" ||
			die "apt-get install in the $SUITE chroot $ROOT failed (above)"
		printf '%s\n' "${PKGS[*]}" >"$ROOT/.autokill-packages.$purpose"
		log "the $SUITE chroot takes $(du -sh "$ROOT" | cut -f1)"
	fi
	exec 7>&-
}
