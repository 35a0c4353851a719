#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build a kernel variant out of tree (incremental; ccache for C).
# Usage: build.sh VARIANT (the variants: scripts/harness.py)
. "$(dirname "$0")/lib.sh"
build_lock

variant=${1:?usage: build.sh VARIANT}
variant "$variant" name >/dev/null || exit 1
O=$BUILD/$variant
mkdir -p "$LOGS"
log=$LOGS/build-$variant.log
: >"$log"
# KBUILD_EXTRA: more make arguments (e.g. KBUILD_EXTRA=W=1).
# shellcheck disable=SC2086 # KBUILD_EXTRA is a list of arguments
KMAKE_LOG=$log step "build $variant kernel (log: $log)" kbuild "$WORK" "$O" ${KBUILD_EXTRA:-} ||
	die "the $variant kernel did not build"
grep -E '(warning|error):' "$log" | grep -v '^make' | head -20 >&2 || true
