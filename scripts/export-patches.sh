#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Export the series as `git format-patch` files that apply with `git am` to
# the source tree (Linux $KVER, or KSRC), and run checkpatch.pl --strict on
# them. OUT=dir chooses where (default: $KCACHE/patches). The author and
# Signed-off-by are the repository's git user. To edit the series as git
# commits:
#   scripts/series.py checkout <pristine tree> DIR; (git in DIR);
#   scripts/series.py save DIR
. "$(dirname "$0")/lib.sh"

SRC=$(source_tree)
out=${OUT:-$KCACHE/patches}
repo=$KCACHE/export
name=$(git -C "$TOP" config user.name || true)
email=$(git -C "$TOP" config user.email || true)
[ -n "$name" ] && [ -n "$email" ] || die "set git user.name and user.email (the patches' author and Signed-off-by)"

export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
python3 "$TOP/scripts/series.py" checkout "$SRC" "$repo"

# The end result must be the tree the build uses.
while read -r f; do
	cmp -s "$repo/$f" "$WORK/$f" || die "exported series differs from the applied tree at $f"
done <"$WORK/.autokill-files"

rm -rf "$out"
mkdir -p "$out"
git -C "$repo" format-patch -q --cover-letter -o "$out" base..HEAD
python3 "$TOP/scripts/cover-letter.py" "$TOP/c-glue/cover-letter.txt" "$out/0000-cover-letter.patch" \
	"$KCACHE" || die "writing the cover letter failed"
ls "$out"/*.patch
patches=()
for p in "$out"/*.patch; do
	[ "$p" = "$out/0000-cover-letter.patch" ] || patches+=("$p")
done

# The patches must apply with `git am` onto the pristine files and give
# the same tree.
head=$(git -C "$repo" rev-parse HEAD)
git -C "$repo" checkout -q --detach base
git -C "$repo" am -q "${patches[@]}" || die "the exported patches do not apply with git am"
git -C "$repo" diff --quiet "$head" HEAD || die "git am of the exported patches gives a different tree"
log "git am: the ${#patches[@]} patches apply to the pristine tree"
log "checkpatch.pl --strict"
(cd "$SRC" && perl scripts/checkpatch.pl --strict -q "${patches[@]}") ||
	die "checkpatch.pl found problems (above)"
log "series exported to $out (cover letter: 0000-cover-letter.patch); apply with: git am $(ls $out/*.patch | grep -v cover-letter)"
