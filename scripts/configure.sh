#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure a build directory: tinyconfig plus the fragments in kconfig/.
# Usage: configure.sh VARIANT (the variants and their fragments:
# scripts/harness.py)
. "$(dirname "$0")/lib.sh"
build_lock

variant=${1:?usage: configure.sh VARIANT}
fragments=$(variant "$variant" fragments) || exit 1
read -ra frags <<<"$fragments"
O=$BUILD/$variant
mapfile -t files < <(fragment_files "${frags[@]}")

want=$(cat "${files[@]}" "$WORK/.autokill-files" | sha256sum | cut -d' ' -f1)
if [ -f "$O/.config" ] && [ "$(cat "$O/.autokill-config" 2>/dev/null)" = "$want" ]; then
	exit 0
fi
# The C kernel differs from the Rust one in CONFIG_PIDFD_AUTOKILL_RUST
# only: its first build starts from a copy of the built Rust tree, and
# Kbuild rebuilds only what depends on the option (kernel/fork.c and the
# few users of <linux/pidfs.h>; the Rust function's prototype is in
# kernel/clone_autokill.h, which nothing else includes).
from=$(variant "$variant" copy_of)
if [ -n "$from" ] && [ ! -e "$O" ] && [ -f "$BUILD/$from/vmlinux" ]; then
	log "the $variant build directory starts as a copy of the built $from one"
	cp -a "$BUILD/$from" "$O"
	# The build records some absolute paths (objtool's own build, the
	# rustc commands): point them at the copy, or the changed commands
	# rebuild objtool, and with it every object objtool checks.
	old=${BUILD//./\\.}/$from
	grep -rlIZ --fixed-strings "$BUILD/$from" "$O" |
		xargs -0r sed -i "s#$old\([/ ]\|\$\)#$O\1#g"
fi
mkdir -p "$O" "$LOGS"
rm -f "$O/.autokill-config"
log "configure $variant in $O (tinyconfig + ${frags[*]}${ARCH_FRAGMENT:+ $ARCH_FRAGMENT})"
: >"$LOGS/config-$variant.log"
KMAKE_LOG=$LOGS/config-$variant.log kconfigure "$WORK" "$O" "${frags[@]}" ||
	die "configuring $variant failed; is the Rust toolchain complete? run 'make setup'"

# Every option a fragment asks for must have survived olddefconfig.
lacks=$(kconfig_check "$WORK" "$O" "${frags[@]}") ||
	die "the $variant config lacks $lacks (unmet dependencies; see 'make -C $WORK O=$O menuconfig')"
printf '%s\n' "$want" >"$O/.autokill-config"
