#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make matrix: the series on every architecture of scripts/harness.py
# ARCHES (MATRIX_ARCHES="um arm64" for some): built with clang/LLVM,
# CLIPPY=1 and CONFIG_WERROR=y, the option on, KUnit and the kernel
# crate's doctests (CONFIG_RUST_KERNEL_DOCTESTS), then run through the
# tree's kunit.py (scripts/kunit.sh: UML natively, the others under QEMU
# TCG). results.py reads each run and prints one table: architecture,
# build, KUnit and doctests passed/failed/skipped, time; then, per
# architecture, what warn_on_once!() compiled to next to C's
# WARN_ON_ONCE() (scripts/warn_evidence.py). Not part of make test: eight
# kernels do not fit CI's time.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/results/record.sh
. "$TOP/tests/results/record.sh"

S=$TOP/scripts
read -ra arches <<<"${MATRIX_ARCHES:-$D_MATRIX_ARCHES}"
"$S/setup.sh"
"$S/fetch-source.sh"
# The emulators kunit.py runs (one from a newer Debian release, qemu_suite,
# comes with its chroot: scripts/kunit.sh), and the GNU binutils some
# architectures need (cross_compile).
pkgs=() a_qemu='' a_qemu_package='' a_qemu_suite='' a_cross_compile=''
for arch in "${arches[@]}"; do
	eval "$(python3 -B "$S/harness.py" arch "$arch")" || exit 1
	[ -z "$a_qemu" ] || [ -n "$a_qemu_suite" ] || command -v "$a_qemu" >/dev/null ||
		pkgs+=("$a_qemu_package")
	[ -z "$a_cross_compile" ] || command -v "${a_cross_compile}objcopy" >/dev/null ||
		pkgs+=("binutils-${a_cross_compile%-}")
done
if [ ${#pkgs[@]} -gt 0 ]; then
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${pkgs[*]}; run make matrix as root"
	step "apt-get install ${pkgs[*]}" sh -c \
		"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs[*]} >/dev/null" ||
		die "apt-get failed"
fi
# One directory per architecture: a run of some keeps the others' last
# results, and the table lists every architecture that has one.
results=$KCACHE/results-matrix
for arch in "${arches[@]}"; do
	rm -rf "${results:?}/$arch"
	record_init "$results/$arch"
	log "$arch: kunit.py run (log: $results/$arch/kunit.log)"
	rc=0 a_c_werror=
	eval "$(python3 -B "$S/harness.py" arch "$arch")"
	werror=(--kconfig_add CONFIG_WERROR=y)
	[ -n "$a_c_werror" ] || werror=(--make_options KRUSTFLAGS=-Dwarnings)
	record_run kunit kunit 0 "$TOP" "$S/kunit.sh" "$arch" --raw_output=all --timeout=1800 \
		"${werror[@]}" --kconfig_add CONFIG_RUST_KERNEL_DOCTESTS=y || rc=$?
	log "$arch: kunit.py exited $rc"
	# What warn_on_once!() compiled to there, next to C's WARN_ON_ONCE().
	[ ! -f "$TCACHE/build/kunit-$arch/fs/pidfs_autokill.o" ] ||
		python3 -B "$S/warn_evidence.py" "$TCACHE/build/kunit-$arch" "$WORK" >"$results/$arch/warn.txt" ||
		log "$arch: warn_evidence.py failed"
done
have=()
# shellcheck disable=SC2153 # ARCHES comes from scripts/harness.py, through lib.sh
for arch in "${ARCHES[@]}"; do
	[ ! -f "$results/$arch/runs" ] || have+=("$arch")
done
rc=0
python3 -B "$TOP/tests/results/results.py" matrix "$results" "${have[@]}" >"$results/table.txt" || rc=$?
cat "$results/table.txt"
for arch in "${have[@]}"; do
	[ ! -f "$results/$arch/warn.txt" ] || printf '\n%s: warn_on_once!()\n%s\n' "$arch" "$(cat "$results/$arch/warn.txt")"
done
exit "$rc"
