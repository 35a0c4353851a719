#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite: host tests, then every kernel variant booted under
# virtme-ng running the in-VM suites. Ends with one summary line
#   N passed, N failed, N skipped
# totalling every suite, and exits non-zero on any failure.
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
VARIANTS=${TEST_VARIANTS:-rust c}
results=$CACHE/results
rm -rf "$results"
mkdir -p "$results"
summary=$results/summary.txt
: >"$summary"
t_start=$(date +%s)

record() { printf 'SUITE %s %d %d %d\n' "$@" >>"$summary"; }

# 1. Host: the workspace's cargo tests (the pure rules, exhaustively).
log "host tests (cargo test --workspace)"
set +e
cargo test --workspace --manifest-path "$TOP/Cargo.toml" 2>&1 | tee "$results/cargo.log"
cargo_rc=${PIPESTATUS[0]}
set -e
read -r p f s < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) {
		if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i; if ($(i + 1) ~ /^ignored/) s += $i } }
	END { print p + 0, f + 0, s + 0 }' "$results/cargo.log")
[ "$cargo_rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
record host-cargo "$p" "$f" "$s"

# 2. Kernels and the programs the VM runs.
"$S/setup.sh"
"$S/fetch-source.sh"
"$S/apply.sh"
for v in $VARIANTS; do
	"$S/configure.sh" "$v"
	"$S/build.sh" "$v"
done
step "build pidfd selftests" "$S/selftests.sh"

# 3. Each kernel in a VM.
for v in $VARIANTS; do
	out=$results/$v.txt
	: >"$out"
	t0=$(date +%s)
	set +e
	VM_RWDIR=$results "$S/vm.sh" "$v" \
		"$TOP/tests/vm/guest.sh $out $CACHE/selftests/pidfd/pidfd_autoreap_test $v"
	rc=$?
	set -e
	log "$v kernel suites done in $(($(date +%s) - t0))s (exit $rc)"
	if [ ! -s "$out" ]; then
		record "vm-$v" 0 1 0
	else
		sed 's/^SUITE \([^ ]*\)/SUITE \1@'"$v"'/' "$out" >>"$summary"
	fi
done

# 4. Summary.
echo
printf '%-40s %7s %7s %7s\n' suite passed failed skipped
awk '{ printf "%-40s %7d %7d %7d\n", $2, $3, $4, $5 }' "$summary"
read -r P F K < <(awk '{ p += $3; f += $4; s += $5 } END { print p + 0, f + 0, s + 0 }' "$summary")
echo "(total time $(($(date +%s) - t_start))s)"
echo "$P passed, $F failed, $K skipped"
[ "$F" -eq 0 ]
