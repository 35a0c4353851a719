#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make man-pages: the man-pages patch that documents CLONE_AUTOREAP,
# CLONE_NNP and CLONE_PIDFD_AUTOKILL in clone(2), as a git format-patch
# file in docs/man-pages/ (docs/man-pages/README says how to apply it).
#
# The base is man2/clone.2 of $MANPAGES_PACKAGE $MANPAGES_BASE (man-pages
# 6.03 as Debian 12 ships it; scripts/harness.py), fetched once with
# `apt-get download` into $CACHE/man-pages/. The page with our text is
# docs/man-pages/clone.2, the commit message docs/man-pages/commit-message
# (its first line the subject). The author is the repository's git user;
# there is no Signed-off-by (the sender adds it: git am -s, git commit -s).
# The date of an existing patch is kept, so that regenerating an unchanged
# patch gives the same file.
# Usage: man-pages.sh [--check]: with --check, write nothing and fail if
# the patch in docs/man-pages/ is not what this script would write.
. "$(dirname "$0")/lib.sh"

check=
case "${1:-}" in
--check) check=1 ;;
'') ;;
*) die "usage: $0 [--check]" ;;
esac

DOCS=$TOP/docs/man-pages
OURS=$DOCS/clone.2
MSG=$DOCS/commit-message
PATCH=$DOCS/0001-clone.2-Document-CLONE_AUTOREAP-CLONE_NNP-CLONE_PIDF.patch
DIR=$CACHE/man-pages/$MANPAGES_PACKAGE-$MANPAGES_BASE
BASE=$DIR/clone.2
if [ ! -f "$OURS" ] || [ ! -s "$MSG" ]; then
	die "$OURS or $MSG is missing"
fi

# The base, once: the package's man2/clone.2.gz, uncompressed.
if [ ! -f "$BASE" ]; then
	if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
		die "apt-get and dpkg-deb are needed to fetch $MANPAGES_PACKAGE $MANPAGES_BASE (Debian)"
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR/deb"
	(cd "$DIR/deb" && step "apt-get download $MANPAGES_PACKAGE=$MANPAGES_BASE" \
		apt-get -o APT::Sandbox::User=root download -qq "$MANPAGES_PACKAGE=$MANPAGES_BASE") ||
		die "download of $MANPAGES_PACKAGE $MANPAGES_BASE failed: it is in Debian 12 (bookworm); on another release put man2/clone.2 of man-pages 6.03 at $BASE by hand"
	dpkg-deb -x "$DIR"/deb/"$MANPAGES_PACKAGE"_*.deb "$DIR/x" ||
		die "cannot unpack $DIR/deb/${MANPAGES_PACKAGE}_*.deb"
	gzip -dc "$DIR/x/usr/share/man/man2/clone.2.gz" >"$BASE.tmp" ||
		die "$MANPAGES_PACKAGE $MANPAGES_BASE has no usr/share/man/man2/clone.2.gz"
	mv "$BASE.tmp" "$BASE"
	rm -rf "$DIR/deb" "$DIR/x"
	log "man-pages base: $BASE"
fi

# The patch: a throw-away repository with the base as its first commit and
# our page as the second, in the layout of man-pages 6.03 (man2/).
name=$(git -C "$TOP" config user.name || true)
email=$(git -C "$TOP" config user.email || true)
if [ -z "$name" ] || [ -z "$email" ]; then
	die "set git user.name and user.email (the patch's author)"
fi
date=
[ ! -f "$PATCH" ] || date=$(sed -n 's/^Date: //p;/^$/q' "$PATCH")
date=${date:-$(date -R)}
repo=$DIR/repo
rm -rf "$repo"
mkdir -p "$repo/man2"
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name \
	GIT_COMMITTER_EMAIL=$email GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
git -C "$repo" init -q
cp "$BASE" "$repo/man2/clone.2"
git -C "$repo" add man2/clone.2
git -C "$repo" commit -q -m "man-pages $MANPAGES_BASE ($MANPAGES_PACKAGE)"
cp "$OURS" "$repo/man2/clone.2"
git -C "$repo" commit -q -a -F "$MSG"
out=$DIR/patch
rm -rf "$out"
git -C "$repo" -c core.abbrev=12 format-patch -q --zero-commit --no-signature -o "$out" -1
new=$(find "$out" -name '0001-*.patch')
[ "$(basename "$new")" = "$(basename "$PATCH")" ] ||
	die "git format-patch named the patch $(basename "$new"), not $(basename "$PATCH"): the subject in $MSG changed?"
# It must apply to the base with git am and give our page.
am=$DIR/am
rm -rf "$am"
git clone -q "$repo" "$am"
git -C "$am" reset -q --hard HEAD~1
git -C "$am" am -q "$new" || die "$new does not apply to the base with git am"
cmp -s "$am/man2/clone.2" "$OURS" || die "git am of $new does not give $OURS"
rm -rf "$am"

if [ -n "$check" ]; then
	diff -u "$PATCH" "$new" >&2 || die "$PATCH is out of date: run 'make man-pages'"
	log "$PATCH is up to date"
elif cmp -s "$new" "$PATCH"; then
	log "$PATCH is up to date"
else
	cp "$new" "$PATCH"
	log "wrote $PATCH"
fi
