#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a built kernel under virtme-ng (QEMU) and run a command in it.
# Usage: vm.sh VARIANT [COMMAND]   (no COMMAND: an interactive shell)
#
# Exits with the guest command's status. KVM is used only when a short
# probe boot proves it works on this machine; otherwise TCG (and always on
# another architecture than the host's, ARCH). A boot that
# fails or hangs ends after VM_TIMEOUT seconds with the console tail.
# Environment: VM_TIMEOUT, VM_MEMORY, VM_CPUS, VM_QEMU_OPTS (e.g. "-icount
# shift=0,sleep=off"), VM_APPEND, VM_ACCEL (the list with defaults: `make
# help`), and VM_RWDIR (a host directory the guest may write, at the same
# path).
. "$(dirname "$0")/lib.sh"

booted_arch
variant=${1:?usage: vm.sh VARIANT [COMMAND]}
shift
cmd=${1:-}
image=$BUILD/$variant/$ARCH_IMAGE
if [ ! -f "$image" ]; then
	target=$(variant "$variant" make_target) || exit 1
	[ -n "$target" ] || target=$(variant "$variant" group)
	die "no $variant kernel at $image; run 'make $target' first"
fi
command -v vng >/dev/null || die "virtme-ng is not installed; run 'make setup'"
mkdir -p "$LOGS"

vng_args=(--run "$image" --memory "${VM_MEMORY:-$D_VM_MEMORY}" --cpus "${VM_CPUS:-$D_VM_CPUS}" --force-9p)
if [ -n "$ARCH_DEFAULT" ]; then
	# The host's root, read-only, and its working directory.
	vng_args+=(--disable-microvm --cwd "$PWD")
	[ -z "${VM_RWDIR:-}" ] || vng_args+=(--rwdir "$VM_RWDIR")
else
	# Another architecture: a root filesystem of its own
	# (scripts/rootfs.sh), and what the guest reads of the host at the
	# same paths, read-only: this checkout, the working tree (the KUnit
	# parser), the selftests and the Rust programs built for it. Each
	# is mounted over the root (the mount points made in it here).
	root=$("$TOP/scripts/rootfs.sh") || exit 1
	vng_args+=(--arch "$ARCH_VNG" --root "$root")
	for d in "$TOP" "$WORK" "$KCACHE/selftests" "$GUEST_BIN"; do
		[ -d "$d" ] || continue
		mkdir -p "$root$d"
		vng_args+=(--rodir "$d=$d")
	done
	if [ -n "${VM_RWDIR:-}" ]; then
		mkdir -p "$root$VM_RWDIR"
		vng_args+=(--rwdir "$VM_RWDIR=$VM_RWDIR")
	fi
fi
[ -n "${VM_QEMU_OPTS:-}" ] && vng_args+=(--qemu-opts="$VM_QEMU_OPTS")
# The variant's own kernel command line, wherever it is booted
# (scripts/harness.py says why).
append=$(variant "$variant" append) || exit 1
[ -n "$append" ] && vng_args+=(--append "$append")
[ -n "${VM_APPEND:-}" ] && vng_args+=(--append "$VM_APPEND")

a=${VM_ACCEL:-tcg}
[ -z "$ARCH_DEFAULT" ] || a=${VM_ACCEL:-$(accel "$image")}
[ "$a" = tcg ] && vng_args+=(--disable-kvm)
printf '==> booting the %s kernel (%s) under %s\n' "$variant" "$(cat "$BUILD/$variant/include/config/kernel.release" 2>/dev/null)" \
	"$(echo "$a" | tr '[:lower:]' '[:upper:]')" >&2
printf '%s\n' "$a" >"$CACHE/last-accel"

if [ -z "$cmd" ]; then
	exec vng "${vng_args[@]}"
fi

# With a directory the guest may write, the command goes by file there:
# virtme-ng passes it (base64) on the kernel's command line, which holds
# 2048 bytes at most with everything else virtme-ng puts there.
if [ -n "${VM_RWDIR:-}" ]; then
	printf '%s\n' "$cmd" >"$VM_RWDIR/.vm-command"
	cmd="bash $VM_RWDIR/.vm-command"
fi
timeout=${VM_TIMEOUT:-$D_VM_TIMEOUT}
set +e
# Through a pipe: virtme-ng reopens its standard output, which on a regular
# file would write over what came before.
timeout -k 10 "$timeout" vng "${vng_args[@]}" --exec "$cmd" </dev/null 2>&1 | cat
rc=${PIPESTATUS[0]}
set -e
case "$rc" in
124 | 137)
	log "the VM did not finish within ${timeout}s; booting again verbosely for the console"
	timeout -k 10 120 vng "${vng_args[@]}" --verbose --exec true </dev/null \
		>"$LOGS/console-$variant.log" 2>&1 || true
	tail -30 "$LOGS/console-$variant.log" >&2
	die "VM timed out (console log: $LOGS/console-$variant.log)"
	;;
255)
	log "virtme-ng failed (exit 255); booting again verbosely for the console"
	timeout -k 10 300 vng "${vng_args[@]}" --verbose --exec true </dev/null \
		>"$LOGS/console-$variant.log" 2>&1 || true
	tail -30 "$LOGS/console-$variant.log" >&2
	die "the $variant kernel did not boot or virtme-ng could not talk to it (console log: $LOGS/console-$variant.log)"
	;;
esac
exit "$rc"
