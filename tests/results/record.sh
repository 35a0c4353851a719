# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The run record: the one writer of the index that tests/results/results.py
# reads (its docstring has the contract). Sourced by scripts/test.sh on the
# host, by tests/vm/guest.sh in the VM and by tests/mutants/guest.sh.
#
# Each run leaves DIR/NAME.log, its output, and one line in DIR/runs:
#   NAME FORMAT EXIT_STATUS MILLISECONDS [RERUN_OF]
# NAME may contain '/' (selftests/COLLECTION/PROGRAM: an upstream
# selftest, run again on its own when a case fails) and '@VARIANT' (a
# host run that belongs in that kernel's column). FORMAT is one of
# results.py's formats.

# record_init DIR: a new, empty index in DIR.
record_init() {
	RECORD_DIR=$1
	mkdir -p "$RECORD_DIR"
	: >"$RECORD_DIR/runs"
}

# record NAME FORMAT EXIT_STATUS MILLISECONDS [RERUN_OF]: one line.
record() {
	printf '%s %s %d %d %s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$RECORD_DIR/runs"
}

# record_now_ms: milliseconds since the epoch.
record_now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }

# record_run NAME FORMAT TIMEOUT DIR CMD...: CMD in DIR (TIMEOUT seconds at
# most; 0 for none, and then CMD may be a shell function), its standard output and error to NAME.log (a file:
# processes a test leaves behind cannot hold it open as they would a
# pipe), recorded; RERUN_OF=NAME marks a rerun of the run NAME. Returns
# CMD's exit status.
record_run() {
	local name=$1 format=$2 limit=$3 dir=$4 t0 rc=0
	shift 4
	mkdir -p "$(dirname "$RECORD_DIR/$name")"
	t0=$(record_now_ms)
	if [ "$limit" -gt 0 ]; then
		(cd "$dir" && exec timeout -k 10 "$limit" "$@") >"$RECORD_DIR/$name.log" 2>&1 </dev/null || rc=$?
	else
		# Not exec: CMD may be a shell function.
		(cd "$dir" && "$@") >"$RECORD_DIR/$name.log" 2>&1 </dev/null || rc=$?
	fi
	record "$name" "$format" "$rc" $(($(record_now_ms) - t0)) "${RERUN_OF:-}"
	return "$rc"
}

# record_note NAME FORMAT EXIT_STATUS TEXT: a run with no program behind
# it (a build's outcome, a program not run): TEXT is its log.
record_note() {
	mkdir -p "$(dirname "$RECORD_DIR/$1")"
	printf '%s\n' "$4" >"$RECORD_DIR/$1.log"
	record "$1" "$2" "$3" 0
}
