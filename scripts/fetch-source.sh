#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source-$KVER (7.3 by default) with a private apt
# configuration and unpack it once, as a pristine tree, into the cache.
# The mirror is the one the machine's own apt configuration uses; only the
# suite differs: the first of $KSUITES (default: trixie-backports, which
# has 7.2 and 7.3, then sid) that carries the package, its newest version.
# With KSRC set, only check that tree.
. "$(dirname "$0")/lib.sh"

if [ -n "${KSRC:-}" ]; then
	source_tree >/dev/null
	exit 0
fi
if [ -f "$PRISTINE/.complete" ]; then
	source_tree >/dev/null
	exit 0
fi

mirror_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# The URIs of a stanza whose suites include the base release.
		uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && u != "" && u !~ /security/ { print u; exit }' "$f")
		[ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
	done
}

uri=$(mirror_uri)
[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*; add one or use KSRC=/path/to/linux"

APT=$CACHE/apt/$KVER
aptopts=(-o "Dir::Etc::SourceList=$APT/etc/sources.list" -o Dir::Etc::SourceParts=-
	-o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT" -o "Dir::Cache::archives=$APT/archives"
	-o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
suites=${KSUITES:-trixie-backports sid}
ver=
for suite in $suites; do
	rm -rf "$APT"
	mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc" "$APT/deb"
	cat >"$APT/etc/sources.list" <<EOS
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main
EOS
	step "apt-get update ($suite, private lists)" apt-get "${aptopts[@]}" update -qq ||
		die "apt-get update of $suite failed; check network access to $uri"
	ver=$(apt-cache "${aptopts[@]}" madison "linux-source-$KVER" | awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }')
	[ -n "$ver" ] && break
	log "no linux-source-$KVER in $suite"
done
[ -n "$ver" ] || die "linux-source-$KVER is in none of the suites $suites; use KSRC=/path/to/linux"
log "linux-source-$KVER $ver from $suite"
(cd "$APT/deb" && step "apt-get download linux-source-$KVER=$ver" \
	apt-get "${aptopts[@]}" download -qq "linux-source-$KVER=$ver") ||
	die "download of linux-source-$KVER failed; rerun 'make source'"

tmp=$CACHE/src/.unpack.$$
rm -rf "$tmp" "$PRISTINE"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
step "unpack linux-source-$KVER $ver" sh -c \
	"dpkg -x '$APT'/deb/linux-source-*.deb '$tmp' && tar -C '$tmp' -xaf '$tmp'/usr/src/linux-source-$KVER.tar.*"
mv "$tmp/linux-source-$KVER" "$PRISTINE"
printf '%s\n' "$ver" >"$PRISTINE/.complete"
rm -rf "$APT/deb"
log "pristine Linux $ver in $PRISTINE"
source_tree >/dev/null
