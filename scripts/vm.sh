#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a built kernel under virtme-ng (QEMU) and run a command in it.
# Usage: vm.sh VARIANT [COMMAND]   (no COMMAND: an interactive shell)
#
# Exits with the guest command's status. KVM is used only when a short
# probe boot proves it works on this machine; otherwise TCG. A boot that
# fails or hangs ends after VM_TIMEOUT seconds with the console tail.
# Environment: VM_TIMEOUT (default 1800), VM_MEMORY (2G), VM_CPUS (2),
# VM_RWDIR (a host directory the guest may write, at the same path),
# VM_QEMU_OPTS (more QEMU options, e.g. "-icount shift=0,sleep=off"),
# VM_APPEND (more kernel command line, e.g. "no5lvl").
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: vm.sh VARIANT [COMMAND]}
shift
cmd=${1:-}
image=$BUILD/$variant/arch/x86/boot/bzImage
[ -f "$image" ] || die "no $variant kernel at $image; run 'make kernel' (or kernel-c/kernel-debug) first"
command -v vng >/dev/null || die "virtme-ng is not installed; run 'make setup'"
mkdir -p "$LOGS"

vng_args=(--run "$image" --memory "${VM_MEMORY:-2G}" --cpus "${VM_CPUS:-2}" --force-9p
	--disable-microvm --cwd "$PWD")
[ -n "${VM_RWDIR:-}" ] && vng_args+=(--rwdir "$VM_RWDIR")
[ -n "${VM_QEMU_OPTS:-}" ] && vng_args+=(--qemu-opts="$VM_QEMU_OPTS")
# The debug kernel boots with four-level paging, wherever it is booted:
# QEMU's CPU offers LA57, and identify_cpu() clears boot_cpu_data's
# capabilities (LA57 among them) with interrupts on; an interrupt in that
# window has KASAN take a direct-map address for a wild one ("BUG: KASAN:
# wild-memory-access in do_raw_spin_lock" from handle_edge_irq(), seen on
# the 7.2.12 debug kernel). Upstream code, not a path of ours.
[ "$variant" = debug ] && vng_args+=(--append no5lvl)
[ -n "${VM_APPEND:-}" ] && vng_args+=(--append "$VM_APPEND")

a=${VM_ACCEL:-$(accel "$image")}
[ "$a" = tcg ] && vng_args+=(--disable-kvm)
printf '==> booting the %s kernel (%s) under %s\n' "$variant" "$(cat "$BUILD/$variant/include/config/kernel.release" 2>/dev/null)" \
	"$(echo "$a" | tr a-z A-Z)" >&2
printf '%s\n' "$a" >"$CACHE/last-accel"

if [ -z "$cmd" ]; then
	exec vng "${vng_args[@]}"
fi

timeout=${VM_TIMEOUT:-1800}
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
