#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make kcsan: the series under KCSAN, the kernel's data race detector.
# Builds the kcsan and kcsan-c kernels (the Rust and the C implementation,
# each with KCSAN; lib.sh), boots each and runs the conformance, fuzz and
# stress programs and the upstream pidfd_autoreap_test while
# autokill-race rewrites the neighbours of the autoreap bit (prctl
# PR_TIMER_CREATE_RESTORE_IDS) beside clone3() calls that read the bit,
# then autokill-race once more with its own checks. The kernel log is read
# for KCSAN reports (results.py, format kcsan): none may name the series'
# code; reports in other code are listed as skipped cases. The report also
# goes to $KCACHE/last-kcsan-report.txt, for the cover letter.
# Not part of `make test`: two more kernels to build and boot would take
# a fresh run past its time budget (docs/measurements.md).
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
results_py=$TOP/tests/results/results.py
variants=(kcsan kcsan-c)
source_tree >/dev/null
export AUTOKILL_KUNIT_TREES="$WORK:$(source_tree)"
results=$KCACHE/results-kcsan
rm -rf "$results"
mkdir -p "$results/host"
: >"$results/host/runs"
t_start=$(date +%s)

prepare_tree
built=()
for v in "${variants[@]}"; do
	t0=$(date +%s)
	rc=0
	build_kernel "$v" || rc=$?
	printf 'build@%s exit %d %d\n' "$v" "$rc" $((($(date +%s) - t0) * 1000)) >>"$results/host/runs"
	echo "configure and build log: $LOGS/config-$v.log, $LOGS/build-$v.log" >"$results/host/build@$v.log"
	[ "$rc" -eq 0 ] && built+=("$v")
done
step "build the pidfd and clone3 selftests" "$S/selftests.sh"
step "cargo build (release) of the VM programs" cargo build -q --release \
	-p autokill-conformance --manifest-path "$TOP/Cargo.toml"

fuzz_seed=${FUZZ_SEED:-$(date +%s)}
log "fuzz seed $fuzz_seed (FUZZ_SEED=$fuzz_seed reproduces it)"
for v in "${built[@]}"; do
	t0=$(date +%s)
	rc=0
	log "$v kernel: booting"
	VM_TIMEOUT=${VM_TIMEOUT:-3600} VM_RWDIR=$results "$S/vm.sh" "$v" "AUTOKILL_SELFTESTS=$KCACHE/selftests \
SELFTEST_TIMEOUT=1200 SELFTEST_ONLY='pidfd:pidfd_autoreap_test' AUTOKILL_KUNIT_TREES=$AUTOKILL_KUNIT_TREES \
GUEST_SUITES='kunit selftests conformance fuzz stress race kcsan' AUTOKILL_BINDIR=$CARGO_TARGET_DIR/release \
STRESS_CYCLES=${STRESS_CYCLES_KCSAN:-2000} FUZZ_SEED=$fuzz_seed FUZZ_COUNT=${FUZZ_COUNT_KCSAN:-5000} \
RACE_SECONDS=${RACE_SECONDS:-60} $TOP/tests/vm/guest.sh $results/$v" >"$results/host/console@$v.log" 2>&1 || rc=$?
	log "$v kernel done in $(($(date +%s) - t0))s (exit $rc; console: $results/host/console@$v.log)"
	if [ "$rc" -ne 0 ]; then
		tail -20 "$results/host/console@$v.log" >&2
		echo "vm.sh $v exited $rc" >"$results/host/vm@$v.log"
		printf 'vm@%s exit %d 0\n' "$v" "$rc" >>"$results/host/runs"
	fi
done

log "results in $results; total time $(($(date +%s) - t_start))s"
prc=0
python3 -B "$results_py" report "$results" "${built[@]}" >"$results/report.txt" 2>&1 || prc=$?
cat "$results/report.txt"
cp "$results/report.txt" "$KCACHE/last-kcsan-report.txt"
exit "$prc"
