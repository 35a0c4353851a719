#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel's own pidfd and clone3 selftests from the working tree,
# against the UAPI headers of the rust build, into the cache (for another
# architecture, ARCH, with its C cross compiler ARCH_TRIPLET-gcc):
# $KCACHE/selftests/COLLECTION/PROGRAM and the list of the test programs,
# "COLLECTION:PROGRAM" per line, in $KCACHE/selftests/kselftest-list.txt
# (as `make install` of the selftests writes it).
. "$(dirname "$0")/lib.sh"
build_lock

SELFTESTS=(pidfd clone3)
top=$KCACHE/selftests
hdr=$BUILD/rust/usr/include
cc=gcc
if [ -z "$ARCH_DEFAULT" ]; then
	# The architecture's C cross compiler, and the libraries it lacks
	# (libcap) from the guest's root filesystem: its headers after the
	# cross C library's, its libraries before them.
	root=$("$TOP/scripts/rootfs.sh") || exit 1
	cc="$ARCH_TRIPLET-gcc -idirafter $root/usr/include -L$root/usr/lib/$ARCH_TRIPLET"
fi
mkdir -p "$top" "$LOGS"
log=$LOGS/selftests.log
make -s -C "$WORK" O="$BUILD/rust" "${KMAKE_ARGS[@]}" headers >"$log" 2>&1 ||
	{ tail -20 "$log" >&2; die "make headers failed (log: $log)"; }
: >"$top/kselftest-list.txt.new"
for c in "${SELFTESTS[@]}"; do
	mkdir -p "$top/$c"
	args=(-C "$WORK/tools/testing/selftests/$c" OUTPUT="$top/$c" KHDR_INCLUDES="-isystem $hdr"
		CC="$cc" COLLECTION="$c")
	make -s "${args[@]}" all >>"$log" 2>&1 ||
		{ tail -20 "$log" >&2; die "building the $c selftests failed (log: $log)"; }
	make -s --no-print-directory "${args[@]}" emit_tests >>"$top/kselftest-list.txt.new" 2>>"$log" ||
		die "listing the $c selftests failed (log: $log)"
done
mv "$top/kselftest-list.txt.new" "$top/kselftest-list.txt"
