#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel at every commit of the series, in order, as a bisect
# would: the Rust configuration (CLIPPY=1, CONFIG_WERROR), incrementally
# in a tree and build directory of its own ($TCACHE/work/series-linux,
# $BUILD/series). Options that a commit does not know yet (the
# Kconfig entry comes with a later patch) are dropped by olddefconfig.
# Then the whole series once more in each of two other configurations:
# the option off (the C implementation, with CONFIG_RUST=y), and without
# CONFIG_MULTIUSER and CONFIG_BUG (kconfig/minimal.config).
# Prints one line per build and fails if any of them does not build. The
# last commit must also have the option (and Rust) in its configuration:
# olddefconfig drops what an architecture cannot have without a word.
#
# For each architecture of SERIES_ARCHES (scripts/harness.py), each in
# the build directory of its ARCH (the tree is shared): the script runs
# itself once per architecture.
. "$(dirname "$0")/lib.sh"

if [ -z "${AUTOKILL_SERIES_ARCH:-}" ]; then
	read -ra arches <<<"${SERIES_ARCHES:-$D_SERIES_ARCHES}"
	rc=0
	for a in "${arches[@]}"; do
		log "the series for $a"
		ARCH=$a AUTOKILL_SERIES_ARCH=1 "$0" || rc=1
	done
	exit "$rc"
fi
SRC=$(source_tree)
build_lock
tree=$TCACHE/work/series-linux
repo=$TCACHE/work/series-repo
O=$BUILD/series
mkdir -p "$LOGS" "$O"

if [ "$(cat "$tree/.autokill-source" 2>/dev/null)" != "$SRC" ]; then
	rm -rf "$tree"
	step "copy $SRC to $tree" rsync -a --exclude=.git "$SRC/" "$tree/"
	echo "$SRC" >"$tree/.autokill-source"
fi
python3 "$TOP/scripts/series.py" checkout "$SRC" "$repo" >&2
files=$(git -C "$repo" log --format= --name-only base..HEAD | sort -u)

# build_at COMMIT KEY LABEL WANT FRAGMENT...: the tree at COMMIT,
# configured with tinyconfig and the fragments, built (log:
# build-series-KEY.log), its .config holding every line of WANT (a
# space-separated list); one line printed.
failed=0
build_at() {
	local c=$1 key=$2 label=$3 want=$4 f log t0 w
	shift 4
	git -C "$repo" checkout -q "$c"
	# The tree at this commit: the series' files as the commit has them,
	# the others pristine (or absent).
	for f in $files; do
		if [ -f "$repo/$f" ]; then
			cmp -s "$repo/$f" "$tree/$f" || { mkdir -p "$(dirname "$tree/$f")"; cp "$repo/$f" "$tree/$f"; }
		elif [ -f "$SRC/$f" ]; then
			cmp -s "$SRC/$f" "$tree/$f" || cp "$SRC/$f" "$tree/$f"
		else
			rm -f "$tree/$f"
		fi
	done
	log=$LOGS/build-series-$key.log
	t0=$(date +%s)
	: >"$log"
	if KMAKE_LOG=$log kconfigure "$tree" "$O" "$@" && KMAKE_LOG=$log kbuild "$tree" "$O"; then
		for w in $want; do
			grep -qx "$w" "$O/.config" || {
				printf 'FAILED %4ss  %s %s: no %s in its .config\n' $(($(date +%s) - t0)) \
					"$ARCH_NAME" "$label" "$w"
				failed=1
				return
			}
		done
		printf 'ok     %4ss  %s %s\n' $(($(date +%s) - t0)) "$ARCH_NAME" "$label"
	else
		printf 'FAILED %4ss  %s %s (log: %s)\n' $(($(date +%s) - t0)) "$ARCH_NAME" "$label" "$log"
		failed=1
	fi
}
head=$(git -C "$repo" rev-parse HEAD)
for c in $(git -C "$repo" rev-list --reverse base..HEAD); do
	n=$(git -C "$repo" rev-list --count base.."$c")
	want=''
	[ "$c" != "$head" ] || want='CONFIG_RUST=y CONFIG_PIDFD_AUTOKILL_RUST=y'
	# shellcheck disable=SC2046 # the fragments, a list
	build_at "$c" "$n" "$n $(git -C "$repo" log -1 --format=%s "$c")" "$want" $(variant rust fragments)
done
# shellcheck disable=SC2046
build_at HEAD off "all, the option off" 'CONFIG_RUST=y' $(variant c fragments)
# shellcheck disable=SC2046
build_at HEAD minimal "all, CONFIG_MULTIUSER=n, CONFIG_BUG=n" \
	'CONFIG_RUST=y CONFIG_PIDFD_AUTOKILL_RUST=y' $(variant rust fragments) minimal
exit "$failed"
