#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make kunit: the series' KUnit tests the way kernel developers run them,
# with the tree's own tools/testing/kunit/kunit.py and the .kunitconfig
# beside the tests (kernel/clone_autokill/.kunitconfig), in QEMU or UML.
# Usage: kunit.sh [ARCH [KUNIT.PY OPTION...]]
# ARCH is an architecture of scripts/harness.py (default: the harness's
# own); the build goes to $BUILD/kunit-ARCH. make matrix runs it for each.
#
# kunit.py asks QEMU for KVM first and falls back to TCG only when KVM
# cannot be opened. This machine's /dev/kvm belongs to a hypervisor that
# runs only patched guests, so it is hidden from kunit.py (a private mount
# namespace with /dev/null over /dev/kvm) when KVM does not work here
# (lib.sh accel).
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
arch=${1:-${ARCHES[0]}}
[ $# -eq 0 ] || shift
a_kunit='' a_kconfig='' a_qemu_args=''
eval "$(python3 -B "$S/harness.py" arch "$arch")" || exit 1
"$S/apply.sh"
build_lock
O=$BUILD/kunit-$arch
mkdir -p "$O" "$LOGS"
cmd=(python3 tools/testing/kunit/kunit.py run --kunitconfig=kernel/clone_autokill
	--arch="$a_kunit" --build_dir="$O" --jobs="$(nproc)")
for a in "${KMAKE_ARGS[@]}"; do
	cmd+=(--make_options "$a")
done
for c in $a_kconfig; do
	cmd+=(--kconfig_add "$c")
done
[ -z "$a_qemu_args" ] || cmd+=(--qemu_args "$a_qemu_args")
cmd+=("$@")
hide_kvm=
if [ "$arch" = "${ARCHES[0]}" ] && [ -e /dev/kvm ] && [ -f "$BUILD/rust/$ARCH_IMAGE" ] &&
	[ "$(accel "$BUILD/rust/$ARCH_IMAGE")" != kvm ]; then
	hide_kvm=1
fi
log "in $WORK: ${cmd[*]}${hide_kvm:+ (with /dev/kvm hidden)}"
cd "$WORK" || die "no working tree at $WORK"
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
