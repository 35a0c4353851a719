#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel's own pidfd selftests from the working tree, against the
# UAPI headers of the rust build, into the cache.
. "$(dirname "$0")/lib.sh"
build_lock

out=$CACHE/selftests/pidfd
hdr=$BUILD/rust/usr/include
mkdir -p "$out" "$LOGS"
log=$LOGS/selftests.log
make -s -C "$WORK" O="$BUILD/rust" "${KMAKE_ARGS[@]}" headers >"$log" 2>&1 ||
	{ tail -20 "$log" >&2; die "make headers failed (log: $log)"; }
make -s -C "$WORK/tools/testing/selftests/pidfd" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdr" CC=gcc "$out/pidfd_autoreap_test" >>"$log" 2>&1 ||
	{ tail -20 "$log" >&2; die "building pidfd_autoreap_test failed (log: $log)"; }
