#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Apply the series (c-glue/series: diffs from c-glue/, whole files from
# rust-module/ and kconfig/) to a working copy of the source tree in the
# cache ($WORK; the source tree itself, pristine or KSRC, is only read).
#
# Only files whose content changes are rewritten, so an unchanged series
# leaves every timestamp alone and the kernel build stays incremental.
. "$(dirname "$0")/lib.sh"

# The tree first: one that is not usable is refused without waiting for
# the build lock.
SRC=$(source_tree)
[ -f "$SRC/Makefile" ] || die "no kernel source at $SRC; run 'make source' first"
build_lock
# A working copy of the source, made once (atomically) per source tree.
# A KSRC git checkout is copied again when its HEAD moves.
if [ -f "$SRC/.complete" ]; then
	stamp="$SRC $(cat "$SRC/.complete")"
else
	stamp="$SRC user-tree $(git -C "$SRC" rev-parse -q --verify HEAD 2>/dev/null || true)"
fi
if [ "$(cat "$WORK/.autokill-source" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$WORK" "$WORK.tmp"
	mkdir -p "$(dirname "$WORK")"
	step "copy $SRC to the working tree" rsync -a --exclude=.git "$SRC/" "$WORK.tmp/"
	mv "$WORK.tmp" "$WORK"
	printf '%s\n' "$stamp" >"$WORK/.autokill-source"
	: >"$WORK/.autokill-files"
fi

# The series applied, in order, to the pristine versions of the files it
# touches (scripts/series.py, shared with `make patches`).
staging=$TCACHE/work/staging
python3 "$TOP/scripts/series.py" checkout "$SRC" "$staging" >&2 || exit 1
git -C "$staging" ls-files | sort >"$staging.files"

# Restore files an earlier series touched and this one does not.
sort -u "$WORK/.autokill-files" | comm -23 - "$staging.files" | while read -r f; do
	if [ -f "$SRC/$f" ]; then cp -p "$SRC/$f" "$WORK/$f"; else rm -f "$WORK/$f"; fi
done
changed=0
while read -r f; do
	if ! cmp -s "$staging/$f" "$WORK/$f"; then
		mkdir -p "$WORK/$(dirname "$f")"
		cp "$staging/$f" "$WORK/$f"
		changed=$((changed + 1))
	fi
done <"$staging.files"
mv "$staging.files" "$WORK/.autokill-files"
log "series applied to $WORK (Linux $(tree_version "$SRC"), $(wc -l <"$WORK/.autokill-files") files, $changed changed)"
