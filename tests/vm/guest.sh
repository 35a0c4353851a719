#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: every program that needs the kernel under test. It
# only runs them; tests/results/results.py reads what they printed, on the
# host.
# Usage: guest.sh OUTDIR
#
# Each run leaves OUTDIR/NAME.log and a line in OUTDIR/runs
# (tests/results/record.sh writes both). Environment:
#   AUTOKILL_SELFTESTS  the built kselftests: COLLECTION/PROGRAM and the list
#                       "COLLECTION:PROGRAM" in kselftest-list.txt
#   SELFTEST_TIMEOUT    seconds per selftest program (1200)
#   SELFTEST_RERUNS     reruns of a failed selftest case at most (10)
#   SELFTEST_NOT_RUN    "COLLECTION:PROGRAM ..." not run here, reported as
#                       skipped (results.py NOT_RUN has the reason)
#   SELFTEST_ONLY       "COLLECTION:PROGRAM ...": run only these (make kcsan)
#   SELFTEST_JOBS       selftest programs (and the conformance suite) run
#                       at once (1; make check: 2, one per vCPU)
#   AUTOKILL_TESTS_FILE a file with the autokill crate's test binaries, one
#                       a line (not in the environment, which the kernel's
#                       command line carries: 2048 bytes at most)
#   AUTOKILL_BINDIR     autokill-conformance, -fuzz, -stress
#   FUZZ_SEED, FUZZ_COUNT, STRESS_CYCLES, RACE_SECONDS
#   FAULT_ARGS          more arguments of autokill-fault (--kmemleak)
#   GUEST_SUITES        what to run: "all" (default) or some of kunit,
#                       selftests, crate, conformance, fuzz, stress, fault,
#                       dmesg; and, not in "all", race (autokill-race
#                       beside the other programs) and kcsan (the kernel
#                       log read as a KCSAN kernel's instead of dmesg)
set -u

out=${1:?usage: guest.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
results_py=$here/../results/results.py
# shellcheck source=tests/results/record.sh
. "$here/../results/record.sh"
record_init "$out"
export PYTHONDONTWRITEBYTECODE=1

# run NAME FORMAT TIMEOUT DIR CMD...: record_run, its name on the console.
run() {
	echo "== $1"
	record_run "$@"
}

# job CMD...: CMD, in the background while fewer than SELFTEST_JOBS jobs
# run (then after one of them ends), or in the foreground with one job.
job() {
	if [ "${SELFTEST_JOBS:-1}" -le 1 ]; then
		"$@"
		return 0
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$SELFTEST_JOBS" ]; do
		wait -n
	done
	"$@" &
}

# want SUITE: whether GUEST_SUITES asks for SUITE.
want() {
	case " ${GUEST_SUITES:-all} " in
	*" all "* | *" $1 "*) return 0 ;;
	esac
	return 1
}

echo "== kernel $(uname -r)"
# Which implementation serves the hooks (the Rust one has its own symbols),
# and the KUnit suites that ran at boot.
run implementation kallsyms 60 / grep -i autokill /proc/kallsyms
want kunit && run kunit kunit 60 / dmesg --notime

# The kernel's own pidfd and clone3 selftests, each from its own directory
# (pidfd_info_test runs ./pidfd_exec_helper), as the kselftest runner does.
st=${AUTOKILL_SELFTESTS:-}
if [ -n "$st" ] && want selftests; then
	while IFS=: read -r coll prog; do
		if [ -n "${SELFTEST_ONLY:-}" ]; then
			case " $SELFTEST_ONLY " in
			*" $coll:$prog "*) ;;
			*) continue ;;
			esac
		fi
		case " ${SELFTEST_NOT_RUN:-} " in
		*" $coll:$prog "*)
			# Reported as skipped, with the reason, not as passed.
			record_note "selftests/$coll/$prog" notrun 0 SELFTEST_NOT_RUN
			continue
			;;
		esac
		job run "selftests/$coll/$prog" ktap "${SELFTEST_TIMEOUT:-1200}" "$st/$coll" "./$prog"
	done <"$st/kselftest-list.txt"
	# With more than one job, the conformance suite shares the lanes.
	b=${AUTOKILL_BINDIR:-}
	if [ "${SELFTEST_JOBS:-1}" -gt 1 ] && [ -n "$b" ] && want conformance; then
		AUTOKILL_REQUIRE_SUPPORT=1 job run conformance ktap 3600 / "$b/autokill-conformance"
		conformance_done=1
	fi
	wait
	# A failed case again on its own, until it passes (its exit status
	# 0), at most SELFTEST_RERUNS times. results.py says which cases
	# failed, and reads the reruns: flaky if one passed, else failed.
	python3 "$results_py" reruns "$out" | while read -r name opt; do
		prog=${name#selftests/}
		for i in $(seq "${SELFTEST_RERUNS:-10}"); do
			# shellcheck disable=SC2086 # opt is "-r fixture.test" or empty
			RERUN_OF=$name run "$name.rerun$i${opt:+.${opt#-r }}" ktap "${SELFTEST_TIMEOUT:-1200}" \
				"$st/$(dirname "$prog")" "./$(basename "$prog")" $opt && break
		done
	done
fi

# The autokill crate's tests. A test that prints "skipped: ..." counts as
# skipped; with AUTOKILL_REQUIRE_SUPPORT=1 (the kernels here all have the
# feature) the autokill tests fail instead.
tests=
if want crate && [ -n "${AUTOKILL_TESTS_FILE:-}" ]; then
	tests=$(cat "$AUTOKILL_TESTS_FILE")
fi
for t in $tests; do
	n=$(basename "$t")
	AUTOKILL_REQUIRE_SUPPORT=1 run "autokill-${n%-*}" libtest 1200 / "$t" --show-output
done

b=${AUTOKILL_BINDIR:-}
# The unlocked writers of the autoreap bit's storage unit in a loop beside
# clone3() calls that read it, for the whole of the other programs' runs
# (the KCSAN kernels), then once on its own with its checks.
race_pid=
if [ -n "$b" ] && [[ " ${GUEST_SUITES:-} " == *" race "* ]]; then
	# In a session of its own, so that its processes end with it.
	setsid "$b/autokill-race" --writer timer --seconds 100000 \
		>"$out/race-background.log" 2>&1 &
	race_pid=$!
fi
if [ -n "$b" ]; then
	want conformance && [ -z "${conformance_done:-}" ] &&
		AUTOKILL_REQUIRE_SUPPORT=1 run conformance ktap 3600 / "$b/autokill-conformance"
	# The outcome of every fuzz call goes to NAME.calls, compared across
	# kernels on the host.
	want fuzz && run fuzz-root ktap 3600 / "$b/autokill-fuzz" --seed "${FUZZ_SEED:-1}" \
		--count "${FUZZ_COUNT:-100000}" --log "$out/fuzz-root.calls"
	want fuzz && run fuzz-unprivileged ktap 3600 / "$b/autokill-fuzz" --seed "${FUZZ_SEED:-1}" \
		--count "${FUZZ_COUNT:-100000}" --unprivileged --log "$out/fuzz-unprivileged.calls"
	[ -n "${STRESS_CYCLES:-}" ] && want stress &&
		run stress ktap 3600 / "$b/autokill-stress" --cycles "$STRESS_CYCLES"
	# Every allocation failure on the autokill paths; the outcome of each
	# one goes to fault.calls, compared across kernels on the host.
	# shellcheck disable=SC2086 # FAULT_ARGS is a list of options
	want fault && run fault ktap 3600 / "$b/autokill-fault" --log "$out/fault.calls" ${FAULT_ARGS:-}
fi

if [ -n "$race_pid" ]; then
	kill -- -"$race_pid" 2>/dev/null
	wait "$race_pid" 2>/dev/null
	run race ktap 600 / "$b/autokill-race" --writer timer --seconds "${RACE_SECONDS:-60}"
fi

# The kernel log at the end: no warning, bug or splat may be in it.
want dmesg && run dmesg-clean dmesg 60 / dmesg --notime
[[ " ${GUEST_SUITES:-} " == *" kcsan "* ]] && run kcsan kcsan 60 / dmesg --notime

exit 0
