# SPDX-License-Identifier: GPL-2.0
# Common settings and helpers for the scripts in this directory.
# Sourced, not executed.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${AUTOKILL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pidfd-autokill-rust}
TOOLS=$CACHE/tools
VENV=$CACHE/venv
BINDGEN_VERSION=0.73.0
VNG_VERSION=1.42

# The kernel tree: Debian's linux-source-$KVER (KVER=7.3 by default; 7.1 is
# the first with CLONE_PIDFD_AUTOKILL), unpacked once into $PRISTINE, or
# the user's own tree (KSRC=/path/to/linux, never modified).
# The Debian kernels the series is kept applicable to (make patches checks
# git am on each); the first is the default.
KVERS=(7.3 7.2)
KVER=${KVER:-${KVERS[0]}}
[[ $KVER =~ ^([0-9]+)\.([0-9]+)$ ]] && { [ "${BASH_REMATCH[1]}" -gt 7 ] ||
	{ [ "${BASH_REMATCH[1]}" -eq 7 ] && [ "${BASH_REMATCH[2]}" -ge 1 ]; }; } ||
	{ printf 'error: KVER=%s: the series needs Linux 7.1 or later, as MAJOR.MINOR (e.g. KVER=7.2)\n' "$KVER" >&2; exit 1; }
PRISTINE=$CACHE/src/linux-$KVER
# The same upstream release without Debian's changes: the orig tarball of
# Debian's source package linux (upstream less a few non-free files),
# unpacked into $VANILLA by `fetch-source.sh --vanilla`. `make patches`
# exports the series against it, so that the index lines of the patches
# name upstream blobs. With KSRC there is none: the user's tree is the
# base.
VANILLA=$CACHE/src/linux-$KVER-vanilla
[ -z "${KSRC:-}" ] || VANILLA=
# The version of the series `make patches` exports (RFC): 1 is the first
# posting (no "v1" in the subjects), 2 gives [RFC PATCH v2 n/m], ...
SERIES_VERSION=1
if [ -n "${KSRC:-}" ] && [ -d "$KSRC" ]; then
	KSRC=$(cd "$KSRC" && pwd)
fi
# KCACHE: what is made from that tree, one place per tree: the working
# copy ($WORK), the build directories ($BUILD/VARIANT), the logs, and
# selftests/, results/, bench/, export/, export-am/, patches/, mutants/
# and last-test-report.txt. For the default 7.3 that is the cache itself (so
# $CACHE/work/linux, $CACHE/build/rust, ...); for another Debian version
# $CACHE/kver/$KVER; for a KSRC tree $CACHE/ksrc/NAME-HASH (its directory
# name and a hash of its path). The toolchain, the pristine sources, the
# downloads, ccache and the cargo target directory are shared.
if [ -n "${KSRC:-}" ]; then
	KCACHE=$CACHE/ksrc/$(basename "$KSRC")-$(printf '%s' "$KSRC" | sha256sum | cut -c1-8)
elif [ "$KVER" != 7.3 ]; then
	KCACHE=$CACHE/kver/$KVER
else
	KCACHE=$CACHE
fi
WORK=$KCACHE/work/linux
BUILD=$KCACHE/build
LOGS=$KCACHE/logs
# The C oracle of the rules crate (tests/rules/build.rs) comes from the
# working tree of this kernel.
export AUTOKILL_KSRC=$WORK

export PATH="$TOOLS/bin:$VENV/bin:$PATH"
# Host Rust builds (the workspace) also live in the cache, so that a fresh
# clone (as in CI) reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

# The Debian toolchain, not the rustup proxies that come first on PATH.
# CLIPPY=1: every build of the Rust code also runs clippy (warnings are
# errors with CONFIG_WERROR).
KMAKE_ARGS=(LLVM=-19 RUSTC=/usr/bin/rustc CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver
	RUSTFMT=/usr/bin/rustfmt RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$TOOLS/bin/bindgen" HOSTRUSTC=/usr/bin/rustc)

# The kernel variants `make test` builds and tests, in that order, and the
# config fragments of each (kconfig/NAME.config, merged in this order onto
# tinyconfig). `make kcsan` builds kcsan and kcsan-c, the same two with
# KCSAN. A variant whose fragments are another's plus `c` (the option
# off) starts its first build from a copy of that one (variant_copy_of).
VARIANTS=(rust c debug)
variant_fragments() {
	case "$1" in
	rust) echo vm selftests fault kunit rust ;;
	c) echo vm selftests fault kunit rust c ;;
	debug) echo vm selftests fault kunit rust debug ;;
	kcsan) echo vm selftests fault kunit rust kcsan ;;
	kcsan-c) echo vm selftests fault kunit rust kcsan c ;;
	*) return 1 ;;
	esac
}
# variant_copy_of VARIANT: the variant whose built tree VARIANT's first
# build starts from, if any.
variant_copy_of() {
	case "$1" in
	c) echo rust ;;
	kcsan-c) echo kcsan ;;
	*) return 1 ;;
	esac
}
# variant_is_c VARIANT: whether VARIANT builds the C implementation.
variant_is_c() {
	[[ " $(variant_fragments "$1") " == *" c "* ]]
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

# step NAME CMD...: print one line when a long step starts and its duration
# when it ends.
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
		printf '==> %s failed after %ss\n' "$name" $(( $(date +%s) - t0 )) >&2
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
# A tree without CLONE_PIDFD_AUTOKILL in its UAPI (older than 7.1) is
# refused here, before anything is copied or built.
source_tree() {
	local src=$PRISTINE what="linux-source-$KVER"
	if [ -n "${KSRC:-}" ]; then
		src=$KSRC what="KSRC=$KSRC"
		[ -f "$src/Makefile" ] && [ -f "$src/Kconfig" ] && [ -d "$src/rust/kernel" ] ||
			die "$what is not a Linux source tree with Rust support (no Makefile, Kconfig or rust/kernel); point KSRC at a 7.1 or later kernel checkout"
	fi
	if [ -f "$src/Makefile" ] && ! grep -qw CLONE_PIDFD_AUTOKILL "$src/include/uapi/linux/sched.h" 2>/dev/null; then
		die "$what is Linux $(tree_version "$src"), older than 7.1 (no CLONE_PIDFD_AUTOKILL in include/uapi/linux/sched.h); the series needs 7.1 or later"
	fi
	printf '%s\n' "$src"
}

# tree_version DIR: the kernel version its top Makefile says (e.g. 7.2.12).
tree_version() {
	awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 }
		END { print (v == "" ? "(no VERSION in its Makefile)" : v "." p (s != "" ? "." s : "")) }' "$1/Makefile"
}

# accel IMAGE: "kvm" if a short probe boot of IMAGE under KVM succeeds on
# this machine, else "tcg". (Here QEMU 7.2 aborts under KVM with "failed to
# set MSR 0x10a".) The answer is cached per QEMU version.
accel() {
	local key f
	key=$(qemu-system-x86_64 --version | head -1 | tr -c 'a-zA-Z0-9.\n' _)
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
