#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Export the series as `git format-patch` files that apply with `git am` to
# a Linux 7.3 tree, and run checkpatch.pl --strict on them.
# OUT=dir chooses where (default: the cache). The author and Signed-off-by
# are the repository's git user.
. "$(dirname "$0")/lib.sh"

SRC=$(source_tree)
out=${OUT:-$CACHE/patches}
repo=$CACHE/export
name=$(git -C "$TOP" config user.name || true)
email=$(git -C "$TOP" config user.email || true)
[ -n "$name" ] && [ -n "$email" ] || die "set git user.name and user.email (the patches' author and Signed-off-by)"

# A repository of just the files the series touches, at their pristine
# content: blob ids, and so the patches, are those of a full tree.
rm -rf "$repo"
mkdir -p "$repo"
git -C "$repo" init -q
while read -r f; do
	[ -f "$SRC/$f" ] || continue
	mkdir -p "$repo/$(dirname "$f")"
	cp "$SRC/$f" "$repo/$f"
done <"$WORK/.autokill-files"
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
git -C "$repo" add -A
git -C "$repo" commit -q -m base

while read -r msg items; do
	case "$msg" in '' | '#'*) continue ;; esac
	for item in $items; do
		case "$item" in
		*.diff) git -C "$repo" apply --index "$TOP/c-glue/$item" ||
			die "c-glue/$item does not apply in series order" ;;
		*)
			for d in rust-module kconfig; do
				[ -f "$TOP/$d/$item" ] && break
			done
			mkdir -p "$repo/$(dirname "$item")"
			cp "$TOP/$d/$item" "$repo/$item"
			git -C "$repo" add "$item"
			;;
		esac
	done
	git -C "$repo" commit -q -s -F "$TOP/c-glue/$msg"
done <"$TOP/c-glue/series"

# The end result must be the tree the build uses.
while read -r f; do
	cmp -s "$repo/$f" "$WORK/$f" || die "exported series differs from the applied tree at $f"
done <"$WORK/.autokill-files"

rm -rf "$out"
mkdir -p "$out"
git -C "$repo" format-patch -q -o "$out" HEAD~"$(git -C "$repo" rev-list --count HEAD~1)"..HEAD
ls "$out"/*.patch
log "checkpatch.pl --strict"
(cd "$SRC" && perl scripts/checkpatch.pl --strict -q "$out"/*.patch) ||
	die "checkpatch.pl found problems (above)"
log "series exported to $out; apply with: git am $out/*.patch"
