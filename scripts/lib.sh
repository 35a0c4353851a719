# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are for the scripts that source this
# Common settings and helpers for the scripts in this directory.
# Sourced, not executed.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v python3 >/dev/null ||
	{ printf 'error: python3 is needed (apt-get install python3)\n' >&2; exit 1; }
# The harness's facts, each defined once in scripts/harness.py: the
# toolchain versions (LLVM_VERSION, BINDGEN_VERSION, VNG_VERSION,
# RUFF_VERSION; the oldest toolchain's MIN_TOOLCHAIN_SUITE, MIN_RUSTC and
# MIN_BINDGEN), the kernels (KVERS, the first the default; MIN_KERNEL),
# SERIES_VERSION, the cache (CACHE), the kernel variants (VARIANTS: those
# `make test` boots on the architecture; KCSAN_VARIANTS; ALL_VARIANTS), the
# architecture built and booted (ARCH, default harness.py's DEFAULT_ARCH:
# ARCH_NAME, ARCH_DEFAULT, ARCH_KARCH, ARCH_IMAGE, ARCH_QEMU,
# ARCH_QEMU_PACKAGE, ARCH_RUST_TARGET, ARCH_FRAGMENT, ARCH_C_WERROR,
# ARCH_VNG, ARCH_DEBIAN, ARCH_TRIPLET; all of them: ARCHES; those it boots:
# ARCHES_BOOTED) and the default of each setting NAME (D_NAME). A
# variant's fields: `variant NAME FIELD`.
harness=$(python3 -B "$TOP/scripts/harness.py" shell) ||
	{ printf 'error: scripts/harness.py shell failed\n' >&2; exit 1; }
eval "$harness"
CACHE=${CACHE:?scripts/harness.py shell gave no CACHE}
variant() { python3 -B "$TOP/scripts/harness.py" variant "$@"; }
TOOLS=$CACHE/tools
VENV=$CACHE/venv

# The kernel tree: Debian's linux-source-$KVER (the first of KVERS by
# default), unpacked once into $PRISTINE, or the user's own tree
# (KSRC=/path/to/linux, never modified).
KVER=${KVER:-${KVERS[0]}}
if ! [[ $KVER =~ ^[0-9]+\.[0-9]+$ ]] || [ "$(printf '%s\n' "$MIN_KERNEL" "$KVER" | sort -V | head -1)" != "$MIN_KERNEL" ]; then
	printf 'error: KVER=%s: the series needs Linux %s or later, as MAJOR.MINOR (e.g. KVER=%s)\n' "$KVER" "$MIN_KERNEL" "${KVERS[-1]}" >&2
	exit 1
fi
PRISTINE=$CACHE/src/linux-$KVER
# The same upstream release without Debian's changes: the orig tarball of
# Debian's source package linux (upstream less a few non-free files),
# unpacked into $VANILLA by `fetch-source.sh --vanilla`. `make patches`
# exports the series against it, so that the index lines of the patches
# name upstream blobs. With KSRC there is none: the user's tree is the
# base.
VANILLA=$CACHE/src/linux-$KVER-vanilla
[ -z "${KSRC:-}" ] || VANILLA=
if [ -n "${KSRC:-}" ] && [ -d "$KSRC" ]; then
	KSRC=$(cd "$KSRC" && pwd)
fi
# KCACHE: what is made from that tree, one place per tree: the working
# copy ($WORK), the build directories ($BUILD/VARIANT), the logs, and
# selftests/, results/, bench/, export/, export-am/, patches/, mutants/
# and last-test-report.txt. For the default kernel that is the cache itself (so
# $CACHE/work/linux, $CACHE/build/rust, ...); for another Debian version
# $CACHE/kver/$KVER; for a KSRC tree $CACHE/ksrc/NAME-HASH (its directory
# name and a hash of its path). The toolchain, the pristine sources, the
# downloads, ccache and the cargo target directory are shared.
if [ -n "${KSRC:-}" ]; then
	KCACHE=$CACHE/ksrc/$(basename "$KSRC")-$(printf '%s' "$KSRC" | sha256sum | cut -c1-8)
elif [ "$KVER" != "${KVERS[0]}" ]; then
	KCACHE=$CACHE/kver/$KVER
else
	KCACHE=$CACHE
fi
# The working copy and what is made from the tree alone (work/, export/,
# export-am/, patches/) are the tree's, for every architecture; the rest of
# KCACHE is the architecture's: for another than the default
# $KCACHE/arch/ARCH (so $CACHE/arch/arm64/build/rust, ...).
TCACHE=$KCACHE
[ -n "$ARCH_DEFAULT" ] || KCACHE=$KCACHE/arch/$ARCH_NAME
WORK=$TCACHE/work/linux
BUILD=$KCACHE/build
LOGS=$KCACHE/logs
# The C oracle of the rules crate (tests/rules/build.rs) comes from the
# working tree of this kernel.
export AUTOKILL_KSRC=$WORK AUTOKILL_CACHE=$CACHE

export PATH="$TOOLS/bin:$VENV/bin:$PATH"
# Host Rust builds (the workspace) also live in the cache, so that a fresh
# clone (as in CI) reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
# The Rust programs the guest runs: cargo's arguments (GUEST_CARGO) and
# where the release build puts them (GUEST_BIN). On another architecture
# they are cross-built for ARCH_RUST_TARGET, static (nothing of the
# guest's root is theirs to depend on) and linked by its C cross compiler.
GUEST_CARGO=() GUEST_BIN=$CARGO_TARGET_DIR/release
if [ -z "$ARCH_DEFAULT" ]; then
	GUEST_CARGO=(--target "$ARCH_RUST_TARGET")
	GUEST_BIN=$CARGO_TARGET_DIR/$ARCH_RUST_TARGET/release
	t=${ARCH_RUST_TARGET^^}
	export "CARGO_TARGET_${t//-/_}_LINKER=$ARCH_TRIPLET-gcc" \
		"CARGO_TARGET_${t//-/_}_RUSTFLAGS=-C target-feature=+crt-static"
fi

# The kernel's make, one spelling for every build: the Debian toolchain,
# not the rustup proxies that come first on PATH; ccache for C. CLIPPY=1:
# every build of the Rust code also runs clippy (warnings are errors with
# CONFIG_WERROR).
KMAKE_ARGS=(LLVM=-"$LLVM_VERSION" CC="ccache clang-$LLVM_VERSION" RUSTC=/usr/bin/rustc
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver RUSTFMT=/usr/bin/rustfmt
	RUSTDOC=/usr/bin/rustdoc BINDGEN="$TOOLS/bin/bindgen" HOSTRUSTC=/usr/bin/rustc)
# Another architecture than the default: its ARCH= on every kernel make
# (not on the default's, whose builds predate the setting).
[ -n "$ARCH_DEFAULT" ] || KMAKE_ARGS+=(ARCH="$ARCH_KARCH")
# Where its C code cannot build with CONFIG_WERROR (its fragment turns it
# off), Rust's warnings, clippy's included, are errors all the same.
[ -n "$ARCH_C_WERROR" ] || KMAKE_ARGS+=(KRUSTFLAGS=-Dwarnings)
export CCACHE_DIR=$CACHE/ccache CCACHE_BASEDIR=$CACHE CCACHE_NOHASHDIR=1
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib

# kmake TREE O ARG...: make in the kernel TREE, building into O. With
# KMAKE_LOG=FILE the output is appended to FILE, and a failure prints the
# command and the log's last lines, the way kunit.py does.
kmake() {
	local tree=$1 o=$2 rc=0
	shift 2
	local kcmd=(make -C "$tree" O="$o" "${KMAKE_ARGS[@]}" "$@")
	if [ -z "${KMAKE_LOG:-}" ]; then
		"${kcmd[@]}"
		return
	fi
	"${kcmd[@]}" >>"$KMAKE_LOG" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -30 "$KMAKE_LOG" >&2
		printf 'error: this command exited %d (the whole log: %s):\n  %s\n' "$rc" "$KMAKE_LOG" \
			"$(printf '%q ' "${kcmd[@]}")" >&2
	fi
	return "$rc"
}

# fragment_files FRAGMENT...: the files kconfig/FRAGMENT.config, in that
# order, and last the architecture's (ARCH_FRAGMENT), one per line.
fragment_files() {
	local f
	for f in "$@" ${ARCH_FRAGMENT:+"$ARCH_FRAGMENT"}; do
		printf '%s\n' "$TOP/kconfig/$f.config"
	done
}

# kconfigure TREE O FRAGMENT...: O/.config from tinyconfig and the
# fragments (fragment_files), merged in that order (output to KMAKE_LOG).
kconfigure() {
	local tree=$1 o=$2 cfgs
	shift 2
	mapfile -t cfgs < <(fragment_files "$@")
	mkdir -p "$o"
	kmake "$tree" "$o" -s tinyconfig &&
		(cd "$o" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" "${cfgs[@]}") \
			>>"${KMAKE_LOG:-/dev/stderr}" 2>&1 &&
		kmake "$tree" "$o" -s olddefconfig
}

# kconfig_check TREE O FRAGMENT...: whether every option the fragments
# (fragment_files) ask for survived olddefconfig in O/.config (the last
# fragment that sets an option wins, as in merge_config.sh);
# KCONFIG_IGNORE="CONFIG_X ..." leaves some out. On failure prints the missing ones, and on stderr why Rust is
# off if CONFIG_RUST=y is one: Kconfig drops it without a word when it
# does not accept the toolchain.
kconfig_check() {
	local tree=$1 o=$2 f line opt val bad=()
	local -A wanted=()
	shift 2
	while IFS= read -r f; do
		while IFS= read -r line; do
			case "$line" in CONFIG_*=*) wanted[${line%%=*}]=${line#*=} ;; esac
		done <"$f"
	done < <(fragment_files "$@")
	for opt in ${KCONFIG_IGNORE:-}; do unset "wanted[$opt]"; done
	for opt in "${!wanted[@]}"; do
		val=${wanted[$opt]}
		if [ "$val" = n ]; then
			! grep -q "^$opt=" "$o/.config" || bad+=("$opt=n")
		else
			grep -qx "$opt=$val" "$o/.config" || bad+=("$opt=$val")
		fi
	done
	[ ${#bad[@]} -gt 0 ] || return 0
	if printf '%s\n' "${bad[@]}" | grep -qx 'CONFIG_RUST=y'; then
		kmake "$tree" "$o" -s rustavailable >&2 || true
	fi
	printf '%s\n' "${bad[*]}"
	return 1
}

# kbuild TREE O [ARG...]: the bootable image, in parallel (an architecture
# the harness does not boot: make's default target, for UML its linux).
kbuild() {
	local tree=$1 o=$2
	shift 2
	kmake "$tree" "$o" -j"$(nproc)" "$@" ${ARCH_IMAGE:+"$(basename "$ARCH_IMAGE")"}
}

# The steps, in order: setup, source and apply (prepare_tree), configure
# and build (build_kernel VARIANT), then run and parse (scripts/test.sh:
# tests/vm/guest.sh in the VM, tests/results/results.py on the host).
prepare_tree() {
	"$TOP/scripts/setup.sh"
	"$TOP/scripts/fetch-source.sh"
	"$TOP/scripts/apply.sh"
}
build_kernel() {
	"$TOP/scripts/configure.sh" "$1" && "$TOP/scripts/build.sh" "$1"
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# booted_arch: fail unless the harness boots ARCH (an image in its entry).
booted_arch() {
	[ -n "$ARCH_IMAGE" ] ||
		die "ARCH=$ARCH_NAME: the harness boots ${ARCHES_BOOTED[*]}; $ARCH_NAME is only built (make series-build, make matrix)"
}

# step NAME CMD...: print one line when a long step starts and its duration
# when it ends; on failure also the command, as kunit.py prints it.
step() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	log "$name ..."
	set +e
	"$@"
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		printf '==> %s failed after %ss (exit %d): %s\n' "$name" $(( $(date +%s) - t0 )) "$rc" \
			"$(printf '%q ' "$@")" >&2
		return "$rc"
	fi
	printf '==> %s done in %ss\n' "$name" $(( $(date +%s) - t0 )) >&2
}

# build_lock: serialise everything that writes the working tree or a build
# directory (apply, configure, build, selftests) across processes, so that
# this 2-core machine never runs two kernel builds at once. Scripts run by
# a holder of the lock (AUTOKILL_BUILD_LOCKED) do not take it again;
# build_unlock releases it.
build_lock() {
	[ -n "${AUTOKILL_BUILD_LOCKED:-}" ] && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.build.lock"
	if ! flock -n 9; then
		log "waiting for another build in $CACHE to finish"
		flock 9
	fi
	export AUTOKILL_BUILD_LOCKED=1
}
build_unlock() {
	exec 9>&-
	unset AUTOKILL_BUILD_LOCKED
}

# The kernel tree we work on: the user's own (KSRC) or the pristine copy.
# A tree without CLONE_PIDFD_AUTOKILL in its UAPI (older than MIN_KERNEL) is
# refused here, before anything is copied or built.
source_tree() {
	local src=$PRISTINE what="linux-source-$KVER"
	if [ -n "${KSRC:-}" ]; then
		src=$KSRC what="KSRC=$KSRC"
		if ! [ -f "$src/Makefile" ] || ! [ -f "$src/Kconfig" ] || ! [ -d "$src/rust/kernel" ]; then
			die "$what is not a Linux source tree with Rust support (no Makefile, Kconfig or rust/kernel); point KSRC at a $MIN_KERNEL or later kernel checkout"
		fi
	fi
	if [ -f "$src/Makefile" ] && ! grep -qw CLONE_PIDFD_AUTOKILL "$src/include/uapi/linux/sched.h" 2>/dev/null; then
		die "$what is Linux $(tree_version "$src"), older than $MIN_KERNEL (no CLONE_PIDFD_AUTOKILL in include/uapi/linux/sched.h); the series needs $MIN_KERNEL or later"
	fi
	printf '%s\n' "$src"
}

# tree_version DIR: the kernel version its top Makefile says (e.g. 7.2.12).
tree_version() {
	awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 }
		END { print (v == "" ? "(no VERSION in its Makefile)" : v "." p (s != "" ? "." s : "")) }' "$1/Makefile"
}

# mirror_uri: the Debian mirror of the machine's own apt configuration,
# the URIs of its first deb822 stanza (else deb line) that is not the
# security archive. fetch-source.sh fetches the kernel from it with a
# private apt configuration, min-toolchain.sh bootstraps its chroot from
# it: no file of the harness names a mirror.
mirror_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# The URIs of a stanza whose suites include the base release.
		uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && u != "" && u !~ /security/ { print u; exit }' "$f")
		[ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { printf '%s\n' "$uri"; return; }
	done
}

# accel IMAGE: "kvm" if a short probe boot of IMAGE under KVM succeeds on
# this machine, else "tcg" (always on another architecture, ARCH). (Here QEMU 7.2 aborts under KVM with "failed to
# set MSR 0x10a".) The answer is cached per QEMU version.
accel() {
	local key f
	# Another architecture than the host's: no KVM for it.
	[ -n "$ARCH_DEFAULT" ] || { echo tcg; return; }
	key=$("$ARCH_QEMU" --version | head -1 | tr -c 'a-zA-Z0-9.\n' _)
	f=$CACHE/accel.$key
	if [ ! -f "$f" ]; then
		mkdir -p "$LOGS"
		if [ -w /dev/kvm ] && timeout -k 5 60 vng --run "$1" --memory 1G --force-9p \
			--disable-microvm --exec true </dev/null >"$LOGS/kvm-probe.log" 2>&1; then
			echo kvm >"$f"
		else
			echo tcg >"$f"
		fi
	fi
	cat "$f"
}
