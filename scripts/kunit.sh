#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make kunit: the series' KUnit tests the way kernel developers run them,
# with the tree's own tools/testing/kunit/kunit.py and the .kunitconfig
# beside the tests (kernel/clone_autokill/.kunitconfig), in QEMU.
#
# kunit.py asks QEMU for KVM first and falls back to TCG only when KVM
# cannot be opened. This machine's /dev/kvm belongs to a hypervisor that
# runs only patched guests, so it is hidden from kunit.py (a private mount
# namespace with /dev/null over /dev/kvm) when KVM does not work here
# (lib.sh accel). The build goes to $BUILD/kunit.
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
"$S/apply.sh"
build_lock
O=$BUILD/kunit
mkdir -p "$O" "$LOGS"
cmd=(python3 tools/testing/kunit/kunit.py run --kunitconfig=kernel/clone_autokill
	--arch="$ARCH_KUNIT" --build_dir="$O" --jobs="$(nproc)")
for a in "${KMAKE_ARGS[@]}"; do
	cmd+=(--make_options "$a")
done
hide_kvm=
if [ -e /dev/kvm ] && [ -f "$BUILD/rust/$ARCH_IMAGE" ] &&
	[ "$(accel "$BUILD/rust/$ARCH_IMAGE")" != kvm ]; then
	hide_kvm=1
fi
log "in $WORK: ${cmd[*]}${hide_kvm:+ (with /dev/kvm hidden)}"
cd "$WORK"
t0=$(date +%s)
rc=0
if [ -n "$hide_kvm" ]; then
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$@"' sh "${cmd[@]}" || rc=$?
else
	"${cmd[@]}" || rc=$?
fi
log "kunit.py exited $rc after $(($(date +%s) - t0))s"
exit "$rc"
