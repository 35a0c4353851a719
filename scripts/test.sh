#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite: host tests, then every kernel variant booted under
# virtme-ng running the in-VM suites. Ends with one summary line
#   N passed, N failed, N skipped
# totalling every suite, and exits non-zero on any failure.
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
VARIANTS=${TEST_VARIANTS:-rust c debug}
# A KSRC tree older than 7.1 is refused here, with its one-line reason.
source_tree >/dev/null
results=$KCACHE/results
rm -rf "$results"
mkdir -p "$results"
summary=$results/summary.txt
: >"$summary"
t_start=$(date +%s)

record() { printf 'SUITE %s %d %d %d\n' "$@" >>"$summary"; }

# The summary, also when a step fails on the way (then counted as a failed
# "harness" suite).
finished=0
summarize() {
	local rc=$?
	[ "$finished" = 1 ] || record harness 0 1 0
	echo
	printf '%-44s %7s %7s %7s\n' suite passed failed skipped
	awk '{ printf "%-44s %7d %7d %7d\n", $2, $3, $4, $5 }' "$summary"
	read -r P F K < <(awk '{ p += $3; f += $4; s += $5 } END { print p + 0, f + 0, s + 0 }' "$summary")
	echo "(results in $results; total time $(($(date +%s) - t_start))s)"
	echo "$P passed, $F failed, $K skipped"
	[ "$F" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
	exit 1
}
trap summarize EXIT

# 1. Host: the workspace's cargo tests. A test that needs what the host
# kernel lacks prints "skipped: <why>" and returns; it counts as skipped.
log "host tests (cargo test --workspace)"
set +e
cargo test --workspace --manifest-path "$TOP/Cargo.toml" -- --show-output >"$results/cargo.log" 2>&1
cargo_rc=$?
grep -E '^test result:|^     Running|^   Doc-tests|FAILED|panicked|^error' "$results/cargo.log" | head -60
echo "$(grep -c '^skipped: ' "$results/cargo.log") tests skipped: $(grep -m1 '^skipped: ' "$results/cargo.log")"
log "host test log: $results/cargo.log"
set -e
read -r p f s < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) {
		if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i; if ($(i + 1) ~ /^ignored/) s += $i } }
	/^skipped: / { k++ }
	END { print p - k, f + 0, s + k }' "$results/cargo.log")
[ "$cargo_rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
record host-cargo "$p" "$f" "$s"

# 2. Kernels and the programs the VM runs.
"$S/setup.sh"
"$S/fetch-source.sh"
"$S/apply.sh"
built=""
for v in $VARIANTS; do
	if "$S/configure.sh" "$v" && "$S/build.sh" "$v"; then
		record "build-$v" 1 0 0
		built="$built $v"
	else
		record "build-$v" 0 1 0
	fi
done
step "build pidfd selftests" "$S/selftests.sh"
# The userspace programs and test binaries the VM runs.
step "cargo build (release) of the VM programs" cargo build -q --release --workspace \
	--manifest-path "$TOP/Cargo.toml"
vm_tests=$(cargo test -q --release -p autokill --no-run --message-format=json \
	--manifest-path "$TOP/Cargo.toml" 2>/dev/null |
	python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
[ -n "$vm_tests" ] || { log "no autokill test binaries were built"; exit 1; }

# Kernel style of the series: rustfmt over the tree's Rust code (the CLIPPY=1
# build above already failed on any clippy or compiler warning), and the
# exported patches through checkpatch.pl --strict and git am.
check() {
	local name=$1
	shift
	if "$@" >"$results/$name.log" 2>&1; then
		record "$name" 1 0 0
	else
		cat "$results/$name.log"
		record "$name" 0 1 0
	fi
}
check style-rustfmtcheck make -s -C "$WORK" O="$BUILD/rust" "${KMAKE_ARGS[@]}" rustfmtcheck
check style-cargo-fmt cargo fmt --all --check --manifest-path "$TOP/Cargo.toml"
check style-cargo-clippy cargo clippy -q --workspace --all-targets --manifest-path "$TOP/Cargo.toml" -- -D warnings
check series-checkpatch-git-am "$S/export-patches.sh"

# 3. Each kernel in a VM. One fuzz seed per run, the same for every kernel.
fuzz_seed=${FUZZ_SEED:-$(date +%s)}
log "fuzz seed $fuzz_seed (FUZZ_SEED=$fuzz_seed reproduces it)"
for v in $built; do
	out=$results/$v.txt
	: >"$out"
	t0=$(date +%s)
	set +e
	impl=rust
	[ "$v" = c ] && impl=c
	# The debug kernel is many times slower under emulation: fewer fuzz
	# calls (compared with the same first calls on the C kernel) and
	# stress cycles there.
	fuzz=100000
	case "$v" in
	rust) cycles=${STRESS_CYCLES:-100000} ;;
	debug) cycles=${STRESS_CYCLES_DEBUG:-10000} fuzz=${FUZZ_COUNT_DEBUG:-20000} ;;
	*) cycles=${STRESS_CYCLES_C:-10000} ;;
	esac
	VM_RWDIR=$results "$S/vm.sh" "$v" "AUTOKILL_TESTS='$(echo $vm_tests)' \
AUTOKILL_BINDIR=$CARGO_TARGET_DIR/release STRESS_CYCLES=$cycles FUZZ_SEED=$fuzz_seed FUZZ_COUNT=$fuzz \
$TOP/tests/vm/guest.sh $out $KCACHE/selftests/pidfd/pidfd_autoreap_test $impl $v"
	rc=$?
	set -e
	log "$v kernel suites done in $(($(date +%s) - t0))s (exit $rc)"
	if [ ! -s "$out" ]; then
		record "vm-$v" 0 1 0
	else
		sed 's/^SUITE \([^ ]*\)/SUITE \1@'"$v"'/' "$out" >>"$summary"
	fi
done

# 4. Differential: the C kernel is the reference; every other kernel must
# give the same outcome for every fuzz call and every conformance case.
differ() {
	local name=$1 ref=$2 other=$3
	if [ ! -f "$ref" ] || [ ! -f "$other" ]; then
		record "$name" 0 1 0
	elif cmp -s "$ref" "$other"; then
		record "$name" 1 0 0
	else
		echo "mismatches between $(basename "$ref") and $(basename "$other"):"
		diff "$ref" "$other" | head -100
		record "$name" 0 1 0
	fi
}
for v in $built; do
	[ "$v" = c ] && continue
	case " $built " in *" c "*) ;; *) continue ;; esac
	for f in fuzz-root fuzz-unprivileged; do
		n=$(wc -l <"$results/$f-$v.log" 2>/dev/null || echo 0)
		head -n "$n" "$results/$f-c.log" >"$results/$f-c.first-$v.log" 2>/dev/null
		differ "differential-$f@$v-vs-c" "$results/$f-c.first-$v.log" "$results/$f-$v.log"
	done
	# Case names and verdicts, without the timing or detail text.
	for x in c "$v"; do
		sed -n 's/^\(ok\|not ok\) [0-9]* - \([^:# ]*\).*/\1 \2/p' "$results/conformance-$x.tap" \
			>"$results/conformance-$x.verdicts" 2>/dev/null
	done
	differ "differential-conformance@$v-vs-c" "$results/conformance-c.verdicts" "$results/conformance-$v.verdicts"
done

finished=1
