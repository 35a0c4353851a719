#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite: host tests, then every kernel variant booted under
# virtme-ng running the in-VM suites, then one report of every suite
# (tests/results/results.py): the failures, the comparison of each kernel
# with the C kernel, one table of suites by kernel and the last line
#   N passed, N failed, N skipped
# Exits non-zero on any failure. TEST_VARIANTS="rust c" limits the kernels.
#
# test.sh --check (make check) is the inner loop: the Rust kernel only,
# rebuilt incrementally, booted once for KUnit, every upstream pidfd and
# clone3 selftest and the conformance suite; no host tests, no style
# checks, no comparison with C. Its results go to $KCACHE/results-check.
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
results_py=$TOP/tests/results/results.py
quick=
case "$*" in
"") ;;
--check) quick=1 TEST_VARIANTS=rust ;;
*) die "usage: test.sh [--check]" ;;
esac
read -ra variants <<<"${TEST_VARIANTS:-${VARIANTS[*]}}"
for v in "${variants[@]}"; do
	variant_fragments "$v" >/dev/null || die "unknown variant '$v' in TEST_VARIANTS (${VARIANTS[*]})"
done
# A KSRC tree older than 7.1 is refused here, with its one-line reason.
source_tree >/dev/null
# Where results.py takes kunit_parser from, on the host and in the VM.
export AUTOKILL_KUNIT_TREES="$WORK:$(source_tree)"
results=$KCACHE/results${quick:+-check}
host=$results/host
rm -rf "$results"
mkdir -p "$host"
: >"$host/runs"
t_start=$(date +%s)
built=()

# record NAME FORMAT EXIT_STATUS MILLISECONDS: a host run for the report
# (NAME@VARIANT puts it in that kernel's column).
record() { printf '%s %s %d %d\n' "$@" >>"$host/runs"; }
now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }
# hrun NAME FORMAT CMD...: CMD's output to NAME.log, recorded.
hrun() {
	local name=$1 format=$2 t0 rc=0
	shift 2
	t0=$(now_ms)
	"$@" >"$host/$name.log" 2>&1 || rc=$?
	record "$name" "$format" "$rc" $(($(now_ms) - t0))
	return 0
}

# The report, also when a step fails on the way (then a failed "harness"
# suite says where).
finished=0
summarize() {
	local rc=$? prc=0
	if [ "$finished" != 1 ]; then
		echo "the test run stopped early (exit $rc); the lines above say where" >"$host/harness.log"
		record harness exit 1 0
	fi
	echo
	log "results and raw outputs in $results; total time $(($(date +%s) - t_start))s"
	python3 -B "$results_py" timing "$results" \
		"${built[@]}" >"$results/timing.txt" 2>&1 || true
	python3 -B "$results_py" report "$results" \
		"${built[@]}" >"$results/report.txt" 2>&1 || prc=$?
	cat "$results/report.txt"
	# The last full report, for the cover letter of `make patches`.
	[ -n "$quick" ] || cp "$results/report.txt" "$KCACHE/last-test-report.txt"
	[ "$prc" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
	exit 1
}
trap summarize EXIT

# 1. Toolchain, source and the series applied to the working tree.
prepare_tree

# 2. Host: the workspace's cargo tests (a test that needs what the host
# kernel lacks prints "skipped: <why>" and counts as skipped), and the
# tests of the results parser itself. After apply: the rules test takes
# its C oracle from the working tree.
if [ -z "$quick" ]; then
	log "host tests (cargo test --workspace, tests/results)"
	hrun host-cargo libtest cargo test --workspace --no-fail-fast \
		--manifest-path "$TOP/Cargo.toml" -- --show-output
	hrun results-parser ktap \
		python3 -B "$TOP/tests/results/test_results.py"
fi

# 3. The kernels and the programs the VM runs.
for v in "${variants[@]}"; do
	t0=$(now_ms)
	rc=0
	build_kernel "$v" || rc=$?
	echo "configure and build log: $LOGS/config-$v.log, $LOGS/build-$v.log" >"$host/build@$v.log"
	record "build@$v" exit "$rc" $(($(now_ms) - t0))
	[ "$rc" -eq 0 ] && built+=("$v")
done
step "build the pidfd and clone3 selftests" "$S/selftests.sh"
if [ -n "$quick" ]; then
	step "cargo build (release) of the conformance suite" cargo build -q --release \
		-p autokill-conformance --manifest-path "$TOP/Cargo.toml"
	guest_suites="kunit selftests conformance dmesg"
else
	step "cargo build (release) of the VM programs" cargo build -q --release --workspace \
		--manifest-path "$TOP/Cargo.toml"
	guest_suites=all
fi
[ -n "$quick" ] || vm_tests=$(cargo test -q --release -p autokill --no-run --message-format=json \
	--manifest-path "$TOP/Cargo.toml" 2>/dev/null |
	python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
[ -n "$quick" ] || [ -n "$vm_tests" ] || die "no autokill test binaries were built"

# Kernel style of the series: rustfmt over the tree's Rust code (the CLIPPY=1
# build above already failed on any clippy or compiler warning), and the
# exported patches through checkpatch.pl --strict and git am.
[ -n "$quick" ] || hrun style-rustfmtcheck exit make -s -C "$WORK" O="$BUILD/rust" "${KMAKE_ARGS[@]}" rustfmtcheck
[ -n "$quick" ] || hrun style-cargo-fmt exit cargo fmt --all --check --manifest-path "$TOP/Cargo.toml"
[ -n "$quick" ] || hrun style-cargo-clippy exit cargo clippy -q --workspace --all-targets \
	--manifest-path "$TOP/Cargo.toml" -- -D warnings
[ -n "$quick" ] || hrun series-checkpatch-git-am exit "$S/export-patches.sh"

# 4. Each kernel in a VM. One fuzz seed per run, the same for every kernel.
fuzz_seed=${FUZZ_SEED:-$(date +%s)}
log "fuzz seed $fuzz_seed (FUZZ_SEED=$fuzz_seed reproduces it)"
# vm_suites VARIANT: boot VARIANT and run its suites; the console output
# goes to $host/console@VARIANT.log.
vm_suites() {
	local v=$1 t0 rc=0 suites fuzz limit fault notrun vmlimit jobs cycles
	t0=$(date +%s)
	# What each kernel runs, sized so that the whole run stays well
	# within CI's 90 minutes (measured times: README). The debug kernel
	# is 5 to 30 times slower under emulation: there fewer fuzz calls
	# (compared with the same first calls on the C kernel) and stress
	# cycles, not the crate's tests (userspace; the kernel paths they
	# take are the conformance suite's), and two selftest programs are
	# not run (results.py NOT_RUN says why; the reasons stay out of the
	# guest's command line, which virtme-ng passes on the kernel's, 2048
	# bytes at most). The time limits allow for a second VM sharing the
	# host's cores.
	suites=$guest_suites fuzz=100000 limit=1200 fault= notrun= vmlimit=2700 jobs=1
	# make check: the selftest programs and the conformance suite two at a
	# time, one per vCPU (pidfd_test alone takes most of the time).
	[ -n "$quick" ] && jobs=2
	case "$v" in
	rust) cycles=${STRESS_CYCLES:-20000} ;;
	debug) cycles=${STRESS_CYCLES_DEBUG:-1000} fuzz=${FUZZ_COUNT_DEBUG:-2000} limit=1800 \
		fault=--kmemleak notrun="pidfd:pidfd_test pidfd:pidfd_poll_test" vmlimit=3600
		[ "$suites" = all ] && suites="kunit selftests conformance fuzz stress fault dmesg" ;;
	*) cycles=${STRESS_CYCLES_C:-10000} ;;
	esac
	log "$v kernel: booting, suites: $suites"
	VM_TIMEOUT=${VM_TIMEOUT:-$vmlimit} VM_RWDIR=$results "$S/vm.sh" "$v" "AUTOKILL_SELFTESTS=$KCACHE/selftests SELFTEST_TIMEOUT=$limit SELFTEST_JOBS=$jobs \
AUTOKILL_KUNIT_TREES=$AUTOKILL_KUNIT_TREES GUEST_SUITES='$suites' SELFTEST_NOT_RUN='$notrun' AUTOKILL_TESTS='$(echo ${vm_tests:-})' \
AUTOKILL_BINDIR=$CARGO_TARGET_DIR/release STRESS_CYCLES=$cycles FAULT_ARGS=$fault FUZZ_SEED=$fuzz_seed FUZZ_COUNT=$fuzz \
$TOP/tests/vm/guest.sh $results/$v" >"$host/console@$v.log" 2>&1 || rc=$?
	log "$v kernel suites done in $(($(date +%s) - t0))s (exit $rc; console: $host/console@$v.log)"
	if [ "$rc" -ne 0 ]; then
		tail -20 "$host/console@$v.log" >&2
		echo "vm.sh $v exited $rc; console output: $host/console@$v.log" >"$host/vm@$v.log"
		record "vm@$v" exit "$rc" 0
	fi
}
# As many VMs at once as the host has cores for all their vCPUs, at most
# two lanes: a guest whose vCPU threads the host deschedules waits for
# them in every IPI and TLB shootdown. With the default two vCPUs on a
# 2-core host that is one kernel at a time; VM_CPUS=1 gives two lanes,
# faster but without SMP in the guests (measured: README, Requirements).
# With two lanes the debug kernel, the slowest, runs in one and the other
# kernels one after the other in the second. VM_LANES=N overrides the
# number.
lanes=${VM_LANES:-$(($(nproc) / ${VM_CPUS:-2}))}
lane1=() lane2=()
for v in "${built[@]}"; do
	if [ "$v" = debug ]; then lane1+=("$v"); else lane2+=("$v"); fi
done
if [ "$lanes" -le 1 ]; then
	lane2=("${lane1[@]}" "${lane2[@]}") lane1=()
elif [ ${#lane1[@]} -eq 0 ] && [ ${#lane2[@]} -gt 1 ]; then
	lane1=("${lane2[0]}") lane2=("${lane2[@]:1}")
fi
# The accelerator probe boots once, before the lanes can race for it.
[ ${#built[@]} -eq 0 ] || log "accelerator: $(accel "$BUILD/${built[0]}/arch/x86/boot/bzImage")"
lane_pid=
if [ ${#lane1[@]} -gt 0 ]; then
	(for v in "${lane1[@]}"; do vm_suites "$v"; done) &
	lane_pid=$!
fi
for v in "${lane2[@]}"; do vm_suites "$v"; done
[ -z "$lane_pid" ] || wait "$lane_pid"

# 5. The report (summarize, on exit).
finished=1
