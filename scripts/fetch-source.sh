#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source-$KVER (KVER: scripts/harness.py) with a private apt
# configuration and unpack it once, as a pristine tree, into the cache.
# The mirror is the one the machine's own apt configuration uses; only the
# suite differs: the first of $KSUITES (`make help`: trixie-backports,
# which has 7.2 and 7.3, then sid) that carries the package, its newest version.
# With --vanilla, also the upstream release of that version (the orig
# tarball of Debian's source package linux) into $VANILLA, the base
# `make patches` exports against. With KSRC set, only check that tree.
. "$(dirname "$0")/lib.sh"

vanilla=
case "${1:-}" in
--vanilla) vanilla=1 ;;
'') ;;
*) die "usage: $0 [--vanilla]" ;;
esac

if [ -n "${KSRC:-}" ]; then
	source_tree >/dev/null
	exit 0
fi
# fetched: nothing is missing.
fetched() {
	[ -f "$PRISTINE/.complete" ] && { [ -z "$vanilla" ] || [ -f "$VANILLA/.complete" ]; }
}
if fetched; then
	source_tree >/dev/null
	exit 0
fi
# One fetch at a time: they share the private apt directory.
mkdir -p "$CACHE"
exec 8>"$CACHE/.fetch.lock"
flock 8
if fetched; then
	source_tree >/dev/null
	exit 0
fi

uri=$(mirror_uri)
[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*; add one or use KSRC=/path/to/linux"

APT=$CACHE/apt/$KVER
aptopts=(-o "Dir::Etc::SourceList=$APT/etc/sources.list" -o Dir::Etc::SourceParts=-
	-o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT" -o "Dir::Cache::archives=$APT/archives"
	-o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
suites=${KSUITES:-$D_KSUITES}
ready=

# apt_suite SUITE: the private apt configuration on SUITE (its binary and
# source indexes), lists updated.
apt_suite() {
	rm -rf "$APT"
	mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc"
	cat >"$APT/etc/sources.list" <<EOS
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $1 main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $1 main
EOS
	step "apt-get update ($1, private lists)" apt-get "${aptopts[@]}" update -qq ||
		die "apt-get update of $1 failed; check network access to $uri"
	ready=$1
}

tmp=$CACHE/src/.unpack.$$
trap 'rm -rf "$tmp"' EXIT

# The Debian tree: linux-source-$KVER, unpacked into $PRISTINE.
fetch_debian() {
	local suite ver=
	for suite in $suites; do
		apt_suite "$suite"
		ver=$(apt-cache "${aptopts[@]}" madison "linux-source-$KVER" | awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }')
		[ -n "$ver" ] && break
		log "no linux-source-$KVER in $suite"
	done
	[ -n "$ver" ] || die "linux-source-$KVER is in none of the suites $suites; use KSRC=/path/to/linux"
	log "linux-source-$KVER $ver from $suite"
	mkdir -p "$APT/deb"
	(cd "$APT/deb" && step "apt-get download linux-source-$KVER=$ver" \
		apt-get "${aptopts[@]}" download -qq "linux-source-$KVER=$ver") ||
		die "download of linux-source-$KVER failed; rerun 'make source'"

	rm -rf "$tmp" "$PRISTINE"
	mkdir -p "$tmp"
	step "unpack linux-source-$KVER $ver" sh -c \
		"dpkg -x '$APT'/deb/linux-source-*.deb '$tmp' && tar -C '$tmp' -xaf '$tmp'/usr/src/linux-source-$KVER.tar.*"
	printf '%s\n' "$ver" >"$tmp/linux-source-$KVER/.complete"
	mv "$tmp/linux-source-$KVER" "$PRISTINE"
	rm -rf "$APT/deb" "$tmp"
	log "pristine Linux $ver in $PRISTINE"
}

# The vanilla tree: the orig tarball of the source package linux of the
# same upstream version as $PRISTINE (7.3.4-1~bpo13+1 -> 7.3.4:
# linux_7.3.4.orig.tar.xz), from the first suite whose source index has
# it (that version of linux, else another with the same upstream
# version), unpacked into $VANILLA.
fetch_vanilla() {
	local ver up suite srcver="" top
	ver=$(cat "$PRISTINE/.complete")
	up=${ver#*:}
	up=${up%-*}
	for suite in $ready $suites; do
		[ "$suite" = "$ready" ] || apt_suite "$suite"
		srcver=$(apt-cache "${aptopts[@]}" madison linux | awk -F'|' -v ver="$ver" -v up="$up" '
			$3 ~ /Sources/ {
				gsub(/ /, "", $2); u = $2; sub(/^[0-9]+:/, "", u); sub(/-[^-]*$/, "", u)
				if ($2 == ver) exact = $2; else if (u == up && any == "") any = $2
			}
			END { print (exact != "" ? exact : any) }')
		[ -n "$srcver" ] && break
		log "no source package linux of upstream version $up in $suite"
	done
	[ -n "$srcver" ] || die "the source package linux $up (for the vanilla tree) is in none of the suites $suites"
	log "source package linux $srcver from $suite: its orig tarball, Linux $up"
	mkdir -p "$APT/src"
	(cd "$APT/src" && step "apt-get source --download-only linux=$srcver" \
		apt-get "${aptopts[@]}" source --download-only --only-source -qq "linux=$srcver") ||
		die "download of the source package linux $srcver failed (above); rerun 'make patches', or unpack Linux $up from elsewhere into $VANILLA and write $up to $VANILLA/.complete"
	[ -f "$APT/src/linux_$up.orig.tar.xz" ] || die "the source package linux $srcver has no linux_$up.orig.tar.xz"

	rm -rf "$tmp" "$VANILLA"
	mkdir -p "$tmp"
	step "unpack linux_$up.orig.tar.xz" tar -C "$tmp" -xJf "$APT/src/linux_$up.orig.tar.xz"
	top=$(find "$tmp" -mindepth 1 -maxdepth 1)
	[ -f "$top/Makefile" ] || die "linux_$up.orig.tar.xz is not one kernel tree"
	[ "$(tree_version "$top")" = "$up" ] ||
		log "warning: linux_$up.orig.tar.xz holds Linux $(tree_version "$top")"
	printf '%s\n' "$up" >"$top/.complete"
	mv "$top" "$VANILLA"
	rm -rf "$APT/src" "$tmp"
	log "vanilla Linux $up in $VANILLA"
}

[ -f "$PRISTINE/.complete" ] || fetch_debian
[ -z "$vanilla" ] || [ -f "$VANILLA/.complete" ] || fetch_vanilla
source_tree >/dev/null
