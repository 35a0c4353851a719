#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make kunit: the series' KUnit tests the way kernel developers run them,
# with the tree's own tools/testing/kunit/kunit.py and the .kunitconfig
# beside the tests (kernel/clone_autokill/.kunitconfig), in QEMU or UML.
# Usage: kunit.sh [--config] [ARCH [KUNIT.PY OPTION...]]
# ARCH is an architecture of scripts/harness.py (default: the harness's
# own); the build goes to $TCACHE/build/kunit-ARCH. make matrix runs it
# for each.
#
# --config: `kunit.py config` only, into $TCACHE/build/kconfig-ARCH, with
# the kernel crate's doctests: whether every option the .kunitconfig asks
# for (CONFIG_RUST, the option, the tests) survives olddefconfig on that
# architecture with this toolchain. No build, no QEMU: make test's cheap
# guard of make matrix, for every architecture.
#
# kunit.py asks QEMU for KVM first and falls back to TCG only when KVM
# cannot be opened. This machine's /dev/kvm belongs to a hypervisor that
# runs only patched guests, so it is hidden from kunit.py (a private mount
# namespace with /dev/null over /dev/kvm) when KVM does not work here
# (lib.sh accel).
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
action=run
if [ "${1:-}" = --config ]; then
	action=config
	shift
fi
arch=${1:-$ARCH_NAME}
[ $# -eq 0 ] || shift
a_kunit='' a_kconfig='' a_qemu_args='' a_qemu='' a_qemu_package='' a_qemu_suite=''
a_cross_compile=''
eval "$(python3 -B "$S/harness.py" arch "$arch")" || exit 1
"$S/apply.sh"
build_lock
O=$TCACHE/build/kunit-$arch
if [ "$action" = config ]; then
	# From the .kunitconfig every time: kunit.py keeps a .config that
	# still holds its options, whatever changed in the toolchain since.
	O=$TCACHE/build/kconfig-$arch
	rm -f "$O/.config"
fi
mkdir -p "$O" "$LOGS"
# An emulator of a newer Debian release (the table's qemu_suite): kunit.py
# finds a wrapper of the same name first in PATH, which runs it in that
# release's chroot (scripts/chroot.sh) with the build directory mounted
# read-only at its own path; exec all the way down, so that the process
# kunit.py waits for, and may kill, is QEMU itself.
if [ -n "$a_qemu_suite" ] && [ "$action" = run ]; then
	[ "$(id -u)" -eq 0 ] ||
		die "$arch runs on the QEMU of Debian $a_qemu_suite, in a chroot: run as root"
	# shellcheck source=scripts/chroot.sh
	. "$S/chroot.sh"
	make_chroot "$a_qemu_suite" qemu "$a_qemu_package"
	wrap=$CACHE/chroot/bin-$a_qemu_suite
	mkdir -p "$wrap"
	{
		printf '#!/usr/bin/env bash\n'
		# shellcheck disable=SC2016 # expanded by the wrapper's inner shell
		printf 'exec unshare --mount --propagation private -- bash -euc %q bash %q ro:%q -- %q "$@"\n' \
			"$(declare -f chroot_mounted); chroot_mounted \"\$@\"" \
			"$(chroot_root "$a_qemu_suite")" "$O" "$a_qemu"
	} >"$wrap/$a_qemu.tmp"
	chmod 755 "$wrap/$a_qemu.tmp"
	mv "$wrap/$a_qemu.tmp" "$wrap/$a_qemu"
	export PATH=$wrap:$PATH
	log "$a_qemu: Debian $a_qemu_suite's, $("$a_qemu" --version | head -1)"
fi
cmd=(python3 tools/testing/kunit/kunit.py "$action" --kunitconfig=kernel/clone_autokill
	--arch="$a_kunit" --build_dir="$O")
[ "$action" != run ] || cmd+=(--jobs="$(nproc)")
for a in "${KMAKE_ARGS[@]}"; do
	# kunit.py gives the kernel's ARCH itself.
	[[ $a == ARCH=* ]] || cmd+=(--make_options "$a")
done
for c in $a_kconfig; do
	cmd+=(--kconfig_add "$c")
done
[ "$action" = run ] || cmd+=(--kconfig_add CONFIG_RUST_KERNEL_DOCTESTS=y)
[ -z "$a_qemu_args" ] || [ "$action" != run ] || cmd+=(--qemu_args "$a_qemu_args")
if [ -n "$a_cross_compile" ] && [ "$action" = run ]; then
	command -v "${a_cross_compile}objcopy" >/dev/null ||
		die "$arch needs GNU binutils for its target: apt-get install binutils-${a_cross_compile%-}"
	cmd+=(--cross_compile "$a_cross_compile")
fi
cmd+=("$@")
hide_kvm=
if [ "$arch" = "$ARCH_NAME" ] && [ -n "$ARCH_DEFAULT" ] && [ -e /dev/kvm ] &&
	[ -f "$BUILD/rust/$ARCH_IMAGE" ] && [ "$(accel "$BUILD/rust/$ARCH_IMAGE")" != kvm ]; then
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
