#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Apply the series (c-glue/series: diffs from c-glue/, whole files from
# rust-module/ and kconfig/) to a working copy of the source tree in the
# cache.
#
# Only files whose content changes are rewritten, so an unchanged series
# leaves every timestamp alone and the kernel build stays incremental.
. "$(dirname "$0")/lib.sh"

SRC=$(source_tree)
[ -f "$SRC/Makefile" ] || die "no kernel source at $SRC; run 'make source' first"
SERIES=$TOP/c-glue/series

# series_items: print "kind path" per item, in series order.
series_items() {
	local msg item
	while read -r msg rest; do
		case "$msg" in '' | '#'*) continue ;; esac
		for item in $rest; do
			case "$item" in
			*.diff) printf 'diff %s\n' "$TOP/c-glue/$item" ;;
			*) printf 'file %s\n' "$item" ;;
			esac
		done
	done <"$SERIES"
}

# whole_file PATH: the repository file that becomes PATH in the kernel tree.
whole_file() {
	local d
	for d in rust-module kconfig; do
		[ -f "$TOP/$d/$1" ] && { printf '%s\n' "$TOP/$d/$1"; return; }
	done
	die "c-glue/series names $1, which is neither in rust-module/ nor in kconfig/"
}

# touched_files: every tree path the series writes.
touched_files() {
	series_items | while read -r kind path; do
		if [ "$kind" = diff ]; then
			sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$path"
		else
			printf '%s\n' "$path"
		fi
	done | sort -u
}

# A working copy of the source, made once (atomically) per source tree.
stamp="$SRC $(cat "$SRC/.complete" 2>/dev/null || echo user-tree)"
if [ "$(cat "$WORK/.autokill-source" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$WORK" "$WORK.tmp"
	mkdir -p "$(dirname "$WORK")"
	step "copy $SRC to the working tree" rsync -a --exclude=.git "$SRC/" "$WORK.tmp/"
	mv "$WORK.tmp" "$WORK"
	printf '%s\n' "$stamp" >"$WORK/.autokill-source"
	: >"$WORK/.autokill-files"
fi

staging=$CACHE/work/staging
rm -rf "$staging"
mkdir -p "$staging"
touched_files >"$staging.files"
while read -r f; do
	if [ -f "$SRC/$f" ]; then
		mkdir -p "$staging/$(dirname "$f")"
		cp -p "$SRC/$f" "$staging/$f"
	fi
done <"$staging.files"

series_items | while read -r kind path; do
	if [ "$kind" = diff ]; then
		rej=$CACHE/work/$(basename "$path").rej
		rm -f "$rej"
		if ! out=$(patch -d "$staging" -p1 -s -N -F0 --no-backup-if-mismatch -r "$rej" <"$path" 2>&1); then
			printf '%s\n' "$out" >&2
			[ -f "$rej" ] && { printf -- '--- rejected hunks (%s):\n' "$rej" >&2; cat "$rej" >&2; }
			die "c-glue/$(basename "$path") does not apply to $SRC; rebase the diff on this tree (see the rejected hunk above)"
		fi
	else
		src=$(whole_file "$path")
		mkdir -p "$staging/$(dirname "$path")"
		cp "$src" "$staging/$path"
	fi
done

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
log "series applied to $WORK ($(wc -l <"$WORK/.autokill-files") files, $changed changed)"
