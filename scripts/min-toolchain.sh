#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make min-toolchain: build the series once with the oldest Rust toolchain
# the kernel supports.
#
# Usage: min-toolchain.sh [--prepare-only]
#   --prepare-only  make (or update) the chroot and check its versions;
#                   no kernel build.
#   (--in-chroot: the build itself, run by this script inside the chroot.)
# As root: debootstrap, apt-get in the chroot, mount and chroot need it.
#
# Why: the tree's scripts/min-tool-version.sh promises rustc 1.85.0 and
# bindgen 0.71.1, but every other build of the harness uses the newer
# rustc-web of Debian 12 and a newer bindgen (scripts/harness.py), so a
# series that needs a newer compiler (a feature stabilised after 1.85, a
# lint that only newer clippy knows to be allowed, ...) would go unnoticed
# until upstream's CI found it. Debian MIN_TOOLCHAIN_SUITE (trixie) ships
# the minimum itself: rustc, rust-src and rust-clippy MIN_RUSTC (1.85),
# bindgen MIN_BINDGEN (0.71), clang/lld/llvm LLVM_VERSION. This Debian 12
# host gets them in a chroot, made once by debootstrap from the machine's
# own mirror (mirror_uri, scripts/lib.sh), at $CACHE/chroot/SUITE; the
# versions found there are printed and checked against scripts/harness.py
# each run.
#
# The build: the working tree ($WORK, `make apply`) configured like the
# rust variant (tinyconfig + its kconfig/ fragments, lib.sh kconfigure)
# into $BUILD/min-toolchain, the bootable image built with CLIPPY=1 (trixie
# has rust-clippy from the same rustc source, so the 1.85 clippy lints run
# too; with CONFIG_WERROR off, for upstream code clippy 1.85 flags, and no
# warning may name the series' files), then
# `make rustdoc` in the same directory, which must print no warning that
# names a file of the series (SERIES_FILES below). Log:
# $LOGS/build-min-toolchain.log.
#
# The chroot sees the repository ($TOP: its scripts and kconfig/) and the
# working tree read-only, and the build directory and $LOGS read-write,
# each bind-mounted under its own path, so that every path (O=, the
# fragments, the log, the paths in the build's .cmd files) is the same as
# on the host. The mounts live in a private mount namespace (unshare -m)
# that ends with the build: nothing stays mounted after a failure or an
# interrupt, and deleting the chroot can never reach through a mount into
# the working tree.
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/chroot.sh
. "$TOP/scripts/chroot.sh"


SUITE=$MIN_TOOLCHAIN_SUITE
ROOT=$(chroot_root "$SUITE")
O=$BUILD/min-toolchain
L=$LLVM_VERSION
# What the kernel build needs in the chroot (Debian SUITE's names).
# rustfmt: bindgen formats the bindings with it, as in the host builds.
PKGS=(rustc rust-src rust-clippy rustfmt bindgen "clang-$L" "lld-$L" "llvm-$L"
	"libclang-$L-dev" make flex bison bc libelf-dev libssl-dev python3 ccache
	cpio kmod rsync perl xz-utils)
# The files of the series a rustdoc warning may not name: its own Rust
# files (rust/kernel/lib.rs only gains `mod` lines: a warning there is
# upstream's). An ERE, matched after a non-word character or at the start
# of a line; [.] rather than \. since awk -v expands backslashes.
SERIES_FILES='rust/kernel/(pid|task|capability|bug)[.]rs|kernel/clone_autokill[^[:space:]:]*|fs/pidfs_autokill[.]rs'

# check_versions: print the chroot's toolchain and fail unless rustc is
# MIN_RUSTC.x and bindgen MIN_BINDGEN.x, the minimum itself (a newer one
# would make this build the same as the others), with rust-src.
check_versions() {
	local rustc_v bindgen_v clang_v clippy_v sysroot
	rustc_v=$(in_chroot "$ROOT" -- rustc --version) || die "no rustc in the chroot $ROOT"
	bindgen_v=$(in_chroot "$ROOT" -- bindgen --version) || die "no bindgen in the chroot $ROOT"
	clang_v=$(in_chroot "$ROOT" -- "clang-$L" --version | awk 'NR == 1') || die "no clang-$L in the chroot $ROOT"
	clippy_v=$(in_chroot "$ROOT" -- clippy-driver --version) || die "no clippy-driver in the chroot $ROOT"
	sysroot=$(in_chroot "$ROOT" -- rustc --print sysroot)
	printf '%s chroot %s:\n  %s\n  %s\n  %s\n  %s\n' "$SUITE" "$ROOT" \
		"$rustc_v" "$clippy_v" "$bindgen_v" "$clang_v"
	[[ $rustc_v =~ ^rustc\ ${MIN_RUSTC//./\\.}\.[0-9]+ ]] ||
		die "the $SUITE chroot has $rustc_v, not rustc $MIN_RUSTC.x (scripts/harness.py MIN_RUSTC)"
	[[ $bindgen_v =~ ^bindgen\ ${MIN_BINDGEN//./\\.}\.[0-9]+ ]] ||
		die "the $SUITE chroot has $bindgen_v, not bindgen $MIN_BINDGEN.x (scripts/harness.py MIN_BINDGEN)"
	[ -f "$ROOT$sysroot/lib/rustlib/src/rust/library/core/src/lib.rs" ] ||
		die "the $SUITE chroot has no Rust standard library source (rust-src) under $sysroot"
}

# series_warnings FILE FROM: the warnings of FILE from line FROM on that
# name a file of the series, each with its whole diagnostic (rustc's
# `warning: ...` line up to the blank line after it, where its
# ` --> FILE:LINE` is; rust/Makefile's one-line `warning: srctree/ link
# ...`).
series_warnings() {
	tail -n +"$2" "$1" | awk -v re="(^|[^[:alnum:]_])($SERIES_FILES)" '
		function flush() { if (w && blk ~ re) print blk "\n"; w = 0; blk = "" }
		/^(warning|error)(\[[^]]*\])?:/ { flush(); w = /^warning/; blk = $0; next }
		/^[[:space:]]*$/ { flush(); next }
		w { blk = blk "\n" $0 }
		END { flush() }'
}

# The build, inside the chroot (run by the host side below, with the
# mounts in place): lib.sh's kconfigure, kbuild and kmake, with the
# chroot's toolchain by name instead of the host's paths.
build_inside() {
	local log=$LOGS/build-min-toolchain.log fragments frags f from lacks
	KMAKE_ARGS=(LLVM=-"$L" CC="ccache clang-$L" RUSTC=rustc HOSTRUSTC=rustc
		RUSTDOC=rustdoc RUSTFMT=rustfmt BINDGEN=bindgen CLIPPY=1
		CLIPPY_DRIVER=clippy-driver)
	# The chroot's own ccache: objects of its clang never mix with the
	# host's in $CACHE/ccache (not mounted here).
	export CCACHE_DIR=/var/cache/ccache
	fragments=$(variant rust fragments)
	read -ra frags <<<"$fragments"

	log "configure in $O (tinyconfig + ${frags[*]})"
	KMAKE_LOG=$log kconfigure "$WORK" "$O" "${frags[@]}" ||
		die "configuring with the $SUITE toolchain failed (log: $log)"
	# CONFIG_WERROR off: clippy 1.85 flags upstream code the newer
	# clippy of the other builds accepts (undocumented_unsafe_blocks in
	# rust/kernel/cpufreq.rs, a SAFETY comment it does not see), which
	# would stop the build before the series' code. Every rustc and clippy
	# warning is still printed, and none may name the series' files
	# (below).
	"$WORK/scripts/config" --file "$O/.config" -d WERROR
	kmake "$WORK" "$O" -s olddefconfig >>"$log" 2>&1
	# Every option a fragment asks for must have survived olddefconfig:
	# above all CONFIG_RUST=y, which Kconfig drops without a word if the
	# kernel does not accept this rustc or bindgen.
	lacks=$(KCONFIG_IGNORE=CONFIG_WERROR kconfig_check "$WORK" "$O" "${frags[@]}") ||
		die "the config lacks $lacks with the $SUITE toolchain"

	from=$(($(wc -l <"$log") + 1))
	KMAKE_LOG=$log step "build $(basename "$ARCH_IMAGE") with the $SUITE toolchain (log: $log)" \
		kbuild "$WORK" "$O" || die "the kernel did not build with rustc $MIN_RUSTC (log: $log)"
	f=$(series_warnings "$log" "$from")
	if [ -n "$f" ]; then
		printf '%s\n' "$f" >&2
		die "rustc or clippy $MIN_RUSTC warns about the series' files (above; log: $log)"
	fi
	log "rustc and clippy warnings elsewhere (upstream code): $(tail -n +"$from" "$log" | grep -c '^warning' || true)"
	from=$(($(wc -l <"$log") + 1))
	KMAKE_LOG=$log step "make rustdoc" kmake "$WORK" "$O" rustdoc ||
		die "make rustdoc failed with rustc $MIN_RUSTC (log: $log)"
	f=$(series_warnings "$log" "$from")
	if [ -n "$f" ]; then
		printf '%s\n' "$f" >&2
		die "make rustdoc warns about the series' files with rustc $MIN_RUSTC (above; log: $log)"
	fi
	log "built and documented with the minimum toolchain: $O"
}

prepare_only=
case "${1:-}" in
--in-chroot)
	build_inside
	exit 0
	;;
--prepare-only) prepare_only=1 ;;
'') ;;
*) die "usage: $0 [--prepare-only]" ;;
esac

[ "$(id -u)" -eq 0 ] || die "min-toolchain.sh needs root (debootstrap, mount, chroot)"
make_chroot "$SUITE" toolchain "${PKGS[@]}"
check_versions
[ -z "$prepare_only" ] || exit 0

[ -f "$WORK/.autokill-files" ] || die "no working tree with the series in $WORK; run 'make apply'"
build_lock
mkdir -p "$O" "$LOGS"
: >"$LOGS/build-min-toolchain.log"
# This script again, inside: the same paths, the same lib.sh. KVER and
# KSRC (already resolved here) give it the same $WORK, $BUILD and $LOGS.
inside=(AUTOKILL_CACHE="$CACHE" KVER="$KVER")
[ -z "${KSRC:-}" ] || inside+=(KSRC="$KSRC")
in_chroot "$ROOT" "ro:$TOP" "ro:$WORK" "rw:$O" "rw:$LOGS" -- \
	"${inside[@]}" bash "$TOP/scripts/min-toolchain.sh" --in-chroot
