#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite: host tests, then every kernel variant booted under
# virtme-ng running the in-VM suites, then one report of every suite
# (tests/results/results.py): the failures, the comparison of each kernel
# with the C kernel, one table of suites by kernel and the last line
#   N passed, N failed, N skipped
# Exits non-zero on any failure. TEST_VARIANTS="rust c" limits the kernels
# (the variants and what each runs: scripts/harness.py). ARCH=arm64 (an
# architecture of harness.py with a root filesystem of its own) boots that
# architecture's kernels instead, with the programs cross-built for it.
#
# test.sh --check (make check) is the inner loop: the Rust kernel only,
# rebuilt incrementally, booted once for KUnit, every upstream pidfd and
# clone3 selftest and the conformance suite; no host tests, no style
# checks, no comparison with C. Its results go to $KCACHE/results-check.
#
# test.sh --kcsan (make kcsan): the kcsan group of variants (the Rust and C
# kernels with KCSAN) under a data race load; no report may name the
# series' code. Results in $KCACHE/results-kcsan.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/results/record.sh
. "$TOP/tests/results/record.sh"

booted_arch
S=$TOP/scripts
results_py=$TOP/tests/results/results.py
mode='test'
case "$*" in
"") read -ra variants <<<"${TEST_VARIANTS:-${VARIANTS[*]}}" ;;
--check) mode=check variants=(rust) ;;
--kcsan) mode=kcsan variants=("${KCSAN_VARIANTS[@]}") ;;
*) die "usage: test.sh [--check | --kcsan]" ;;
esac
for v in "${variants[@]}"; do
	variant "$v" name >/dev/null || die "TEST_VARIANTS: no variant '$v'"
done
# A KSRC tree older than MIN_KERNEL is refused here, with its one-line reason.
source_tree >/dev/null
# Where results.py takes kunit_parser from, on the host and in the VM.
AUTOKILL_KUNIT_TREES="$WORK:$(source_tree)"
export AUTOKILL_KUNIT_TREES
results=$KCACHE/results
[ "$mode" = test ] || results=$KCACHE/results-$mode
host=$results/host
rm -rf "$results"
record_init "$host"
t_start=$(date +%s)
built=()

# hrun NAME FORMAT CMD...: CMD on the host, its output to NAME.log, recorded.
hrun() {
	record_run "$1" "$2" 0 "$PWD" "${@:3}" || true
}

# The report, also when a step fails on the way (then a failed "harness"
# suite says where).
finished=0
summarize() {
	local rc=$? prc=0
	if [ "$finished" != 1 ]; then
		record_note harness exit 1 "the test run stopped early (exit $rc); the lines above say where"
	fi
	echo
	log "results and raw outputs in $results; total time $(($(date +%s) - t_start))s"
	python3 -B "$results_py" timing "$results" \
		"${built[@]}" >"$results/timing.txt" 2>&1 || true
	python3 -B "$results_py" report "$results" \
		"${built[@]}" >"$results/report.txt" 2>&1 || prc=$?
	cat "$results/report.txt"
	# The last full reports, for the cover letter of `make patches`.
	case $mode in
	test) cp "$results/report.txt" "$KCACHE/last-test-report.txt" ;;
	kcsan) cp "$results/report.txt" "$KCACHE/last-kcsan-report.txt" ;;
	esac
	[ "$prc" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
	exit 1
}
trap summarize EXIT

# 1. Toolchain, source and the series applied to the working tree.
prepare_tree

# 2. Host: the workspace's cargo tests (a test that needs what the host
# kernel lacks prints "skipped: <why>" and counts as skipped). After apply:
# the rules test takes its C oracle from the working tree. They and the
# style checks below do not depend on ARCH: on another architecture only
# its kernels, the programs built for it and their clippy.
host_tests=
[ "$mode" = test ] && [ -n "$ARCH_DEFAULT" ] && host_tests=1
[ "$mode" != test ] || [ -n "$host_tests" ] ||
	log "ARCH=$ARCH_NAME: no host tests or style checks (make test runs them), its VMs only"
if [ -n "$host_tests" ]; then
	log "host tests (cargo test --workspace, tests/bench, harness tables)"
	hrun host-cargo libtest cargo test --workspace --no-fail-fast \
		--manifest-path "$TOP/Cargo.toml" -- --show-output
	hrun bench-scripts ktap python3 -B "$TOP/tests/bench/test_bench.py"
	hrun harness-tables exit python3 -B "$S/harness.py" check
fi

# 3. The kernels and the programs the VM runs.
for v in "${variants[@]}"; do
	t0=$(record_now_ms)
	rc=0
	build_kernel "$v" || rc=$?
	printf 'configure and build log: %s, %s\n' "$LOGS/config-$v.log" "$LOGS/build-$v.log" >"$host/build@$v.log"
	record "build@$v" exit "$rc" $(($(record_now_ms) - t0))
	[ "$rc" -eq 0 ] && built+=("$v")
done
step "build the pidfd and clone3 selftests" "$S/selftests.sh"
vm_tests=
if [ "$mode" = test ]; then
	step "cargo build (release) of the VM programs" cargo build -q --release --workspace \
		"${GUEST_CARGO[@]}" --manifest-path "$TOP/Cargo.toml"
	vm_tests=$(cargo test -q --release -p autokill --no-run --message-format=json "${GUEST_CARGO[@]}" \
		--manifest-path "$TOP/Cargo.toml" 2>/dev/null |
		python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
	[ -n "$vm_tests" ] || die "no autokill test binaries were built"
else
	step "cargo build (release) of the conformance programs" cargo build -q --release \
		"${GUEST_CARGO[@]}" -p autokill-conformance --manifest-path "$TOP/Cargo.toml"
fi

# Style: rustfmt over the tree's Rust code (the CLIPPY=1 build above
# already failed on any clippy or compiler warning), the exported patches
# through checkpatch.pl --strict and git am, the workspace's fmt and
# clippy, shellcheck and ruff over every script, the man pages' lints.
# Then the results parser's own tests, against the kunit_parser of each
# kernel tree the export fetched (a tree not in the cache is a skipped
# test, never a pass).
if [ "$mode" = test ] && [ -z "$host_tests" ]; then
	hrun "style-cargo-clippy-$ARCH_RUST_TARGET" exit cargo clippy -q --workspace --all-targets \
		"${GUEST_CARGO[@]}" --manifest-path "$TOP/Cargo.toml" -- -D warnings
fi
if [ -n "$host_tests" ]; then
	hrun style-rustfmtcheck exit kmake "$WORK" "$BUILD/rust" -s rustfmtcheck
	hrun style-cargo-fmt exit cargo fmt --all --check --manifest-path "$TOP/Cargo.toml"
	hrun style-cargo-clippy exit cargo clippy -q --workspace --all-targets \
		--manifest-path "$TOP/Cargo.toml" -- -D warnings
	hrun series-checkpatch-git-am exit "$S/export-patches.sh"
	hrun style-shellcheck exit "$S/lint.sh" shellcheck
	hrun style-ruff exit "$S/lint.sh" ruff
	hrun style-man-pages exit "$TOP/tests/man/check.sh"
	# The crate as its users get it: documentation without a warning, and
	# the package cargo would upload, built on its own.
	RUSTDOCFLAGS=-Dwarnings hrun crate-doc exit cargo doc -q -p autokill --all-features \
		--no-deps --manifest-path "$TOP/Cargo.toml"
	hrun crate-publish-dry-run exit cargo publish -q --dry-run -p autokill --allow-dirty \
		--manifest-path "$TOP/Cargo.toml"
	# make matrix's cheap guard: on every architecture the series'
	# .kunitconfig configures (CONFIG_RUST, the option, its tests and the
	# doctests survive olddefconfig with this toolchain); no build.
	for a in "${ARCHES[@]}"; do
		hrun "kconfig-$a" exit "$S/kunit.sh" --config "$a"
	done
	trees=("$(source_tree)")
	[ -n "${KSRC:-}" ] || trees=("${KVERS[@]/#/$CACHE/src/linux-}")
	for t in "${trees[@]}"; do
		AUTOKILL_KUNIT_TREES=$t hrun "results-parser-$(basename "$t")" ktap \
			python3 -B "$TOP/tests/results/test_results.py"
	done
fi

# 4. Each kernel in a VM. One fuzz seed per run, the same for every kernel.
fuzz_seed=${FUZZ_SEED:-$(date +%s)}
log "fuzz seed $fuzz_seed (FUZZ_SEED=$fuzz_seed reproduces it)"
# vm_suites VARIANT: boot VARIANT and run its suites (the variant's fields
# in scripts/harness.py, sized so that the whole run stays well within
# CI's 90 minutes; the reasons for a program not run stay out of the
# guest's command line, which virtme-ng passes on the kernel's, 2048 bytes
# at most); the console output goes to $host/console@VARIANT.log.
vm_suites() {
	local v=$1 t0 rc=0 jobs=1 cycles fuzz suites
	local v_suites v_knob v_stress_cycles v_fuzz_count v_selftest_timeout v_vm_timeout \
		v_not_run v_selftest_only v_fault_args
	eval "$(variant "$v" shell)"
	t0=$(date +%s)
	suites=$v_suites
	# make check: the selftest programs and the conformance suite two at a
	# time, one per vCPU (pidfd_test alone takes most of the time).
	[ "$mode" = check ] && jobs=2 suites="kunit selftests conformance dmesg"
	cycles=STRESS_CYCLES_$v_knob fuzz=FUZZ_COUNT_$v_knob
	cycles=${!cycles:-$v_stress_cycles} fuzz=${!fuzz:-$v_fuzz_count}
	log "$v kernel: booting, suites: $suites"
	# The crate's test binaries in a file: their paths would take the
	# command line past its 2048 bytes.
	printf '%s\n' "$vm_tests" >"$results/autokill-tests"
	VM_TIMEOUT=${VM_TIMEOUT:-$v_vm_timeout} VM_RWDIR=$results "$S/vm.sh" "$v" "AUTOKILL_SELFTESTS=$KCACHE/selftests \
SELFTEST_TIMEOUT=$v_selftest_timeout SELFTEST_JOBS=$jobs AUTOKILL_KUNIT_TREES=$AUTOKILL_KUNIT_TREES GUEST_SUITES='$suites' \
SELFTEST_NOT_RUN='$v_not_run' SELFTEST_ONLY='$v_selftest_only' AUTOKILL_TESTS_FILE=$results/autokill-tests \
AUTOKILL_BINDIR=$GUEST_BIN STRESS_CYCLES=$cycles FAULT_ARGS='$v_fault_args' FUZZ_SEED=$fuzz_seed \
FUZZ_COUNT=$fuzz RACE_SECONDS=${RACE_SECONDS:-$D_RACE_SECONDS} SELFTEST_RERUNS=${SELFTEST_RERUNS:-$D_SELFTEST_RERUNS} $TOP/tests/vm/guest.sh $results/$v" >"$host/console@$v.log" 2>&1 || rc=$?
	log "$v kernel suites done in $(($(date +%s) - t0))s (exit $rc; console: $host/console@$v.log)"
	if [ "$rc" -ne 0 ]; then
		tail -20 "$host/console@$v.log" >&2
		record_note "vm@$v" exit "$rc" "vm.sh $v exited $rc; console output: $host/console@$v.log"
	fi
}
# As many VMs at once as the host has cores for all their vCPUs, at most
# two lanes: a guest whose vCPU threads the host deschedules waits for
# them in every IPI and TLB shootdown. With the default two vCPUs on a
# 2-core host that is one kernel at a time; VM_CPUS=1 gives two lanes,
# faster but without SMP in the guests (docs/measurements.md). With two
# lanes the slowest kernel runs in one and the others one after the other
# in the second. VM_LANES=N overrides the number.
lanes=${VM_LANES:-$(($(nproc) / ${VM_CPUS:-$D_VM_CPUS}))}
lane1=() lane2=()
for v in "${built[@]}"; do
	if [ -n "$(variant "$v" slow)" ]; then lane1+=("$v"); else lane2+=("$v"); fi
done
if [ "$lanes" -le 1 ]; then
	lane2=("${lane1[@]}" "${lane2[@]}") lane1=()
elif [ ${#lane1[@]} -eq 0 ] && [ ${#lane2[@]} -gt 1 ]; then
	lane1=("${lane2[0]}") lane2=("${lane2[@]:1}")
fi
# The accelerator probe boots once, before the lanes can race for it.
[ ${#built[@]} -eq 0 ] || log "accelerator: $(accel "$BUILD/${built[0]}/$ARCH_IMAGE")"
lane_pid=
if [ ${#lane1[@]} -gt 0 ]; then
	(for v in "${lane1[@]}"; do vm_suites "$v"; done) &
	lane_pid=$!
fi
for v in "${lane2[@]}"; do vm_suites "$v"; done
[ -z "$lane_pid" ] || wait "$lane_pid"

# 5. The report (summarize, on exit).
finished=1
