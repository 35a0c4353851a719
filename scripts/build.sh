#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build a kernel variant out of tree (incremental; ccache for C).
# Usage: build.sh rust|c|debug
. "$(dirname "$0")/lib.sh"
build_lock

variant=${1:?usage: build.sh rust|c|debug}
O=$BUILD/$variant
mkdir -p "$LOGS" "$CACHE/ccache"
export CCACHE_DIR=$CACHE/ccache CCACHE_BASEDIR=$CACHE CCACHE_NOHASHDIR=1
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
log="$LOGS/build-$variant.log"
kbuild() {
	make -C "$WORK" O="$O" "${KMAKE_ARGS[@]}" CC="ccache clang-19" \
		-j"$(nproc)" ${KBUILD_EXTRA:-} bzImage >"$log" 2>&1
}
if ! step "build $variant kernel (log: $log)" kbuild; then
	tail -40 "$log" >&2
	die "the $variant kernel did not build; the log is $log"
fi
grep -E '(warning|error):' "$log" | grep -v '^make' | head -20 >&2 || true
