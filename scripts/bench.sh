#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark the Rust path against the C path: build both kernels from the
# same tree and config, boot them alternately (rust c rust c ...) under the
# same VM settings, run autokill-bench in each, and print per case the cost
# of one operation, the Rust/C ratio and the spread across boots, the
# calibration checks, a static comparison of the two vmlinux images, and
# write an SVG of the ratios.
#
# Usage: bench.sh [--check] [--wall]
#
# Default: QEMU counts instructions (-icount shift=0,sleep=off: the
#   guest's TSC advances by one per executed guest instruction), so the
#   numbers are guest instructions, independent of the host's load. TCG
#   only (icount and KVM do not mix).
# --wall (or BENCH_MODE=wall): plain TCG (or KVM where it works),
#   CLOCK_MONOTONIC nanoseconds; noisy under TCG.
# --check (or BENCH_CHECK=1): only the check that the clock counts: the
#   Rust kernel booted BENCH_BOOTS times (2 unless set); fails unless every
#   case is within 0.1% across the boots and the getppid() loop and the
#   user loop scale linearly with their length.
# BENCH_BOOTS boots per kernel; BENCH_RUNS fresh autokill-bench processes
# per boot, one after the other (a boot's value of a case is the mean over
# them: scripts/benchlib/stats.py); BENCH_SCALE scales the number of timed
# operations of each process. Their defaults: `make help`.
#
# Results go to $KCACHE/bench/<time>/: N-rust.json, N-c.json (what the
# BENCH_RUNS autokill-bench processes printed in boot N), N-rust.env and N-c.env (the guest's
# processes, meminfo, interrupts and vmstat before it started), meta.json,
# summary.txt (what is printed at the end), summary.json, static.txt (the
# instruction listings) and ratios.svg. A full instruction-mode run also copies ratios.svg and
# summary.txt to bench/ in the repository, for the README (the default
# kernel only).
#
# The VM has one vCPU, so that parent and child never race across CPUs, and
# user-space address randomization is off in the guest, so that a fork
# copies the same address space in every boot.
. "$(dirname "$0")/lib.sh"
# The benchmarks' clock is x86_64's (the TSC, counting instructions
# under QEMU icount; autokill-bench's rdtsc()).
[ -n "$ARCH_DEFAULT" ] || die "ARCH=$ARCH_NAME: the benchmarks run on the default architecture only (without ARCH)"

t_start=$(date +%s)
check=${BENCH_CHECK:-}
mode=${BENCH_MODE:-$D_BENCH_MODE}
for a in "$@"; do
	case "$a" in
	--check) check=1 ;;
	--wall) mode=wall ;;
	*) die "usage: bench.sh [--check] [--wall]" ;;
	esac
done
case "$mode" in
insns)
	qemu_opts="-icount shift=0,sleep=off"
	clock=insns
	# QEMU counts instructions only when it emulates them.
	export VM_ACCEL=tcg
	;;
wall)
	qemu_opts=
	clock=ns
	;;
*) die "BENCH_MODE is insns or wall, not '$mode'" ;;
esac
if [ -n "$check" ]; then
	kernels=(rust)
	boots=${BENCH_BOOTS:-2}
else
	kernels=(rust c)
	boots=${BENCH_BOOTS:-$D_BENCH_BOOTS}
fi
scale=${BENCH_SCALE:-$D_BENCH_SCALE}
runs=${BENCH_RUNS:-$D_BENCH_RUNS}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS is a number of runs, not '$runs'"
S=$TOP/scripts

# Linked statically and run from a tmpfs in the guest: a fork then copies
# only the benchmark's own few mappings (not those of the shared libraries,
# a quarter of a fork's instructions), and the pages the child faults in
# come from the same page cache in every boot, not from 9p's.
target=$ARCH_RUST_TARGET
RUSTFLAGS="-C target-feature=+crt-static" step "cargo build autokill-bench (static)" \
	cargo build -q --release -p autokill-bench --target "$target" --manifest-path "$TOP/Cargo.toml"
bin=$CARGO_TARGET_DIR/$target/release/autokill-bench
out=$KCACHE/bench/$(date +%Y%m%d-%H%M%S)${check:+-check}
mkdir -p "$out"

# Both kernels from one state of the series: apply and build them without
# letting another build in between, and note what was built.
build_lock
t_locked=$(date +%s)
"$S/apply.sh"
for v in "${kernels[@]}"; do
	"$S/configure.sh" "$v"
	"$S/build.sh" "$v"
done
series=$(cd "$WORK" && sort -u .autokill-files | while read -r f; do
	printf '%s\n' "$f"
	cat "$f" 2>/dev/null || true
done | sha256sum | cut -c1-16)
declare -A image_sum
for v in "${kernels[@]}"; do
	image_sum[$v]=$(sha256sum <"$BUILD/$v/$ARCH_IMAGE" | cut -c1-16)
done
[ -n "$check" ] ||
	python3 "$S/bench.py" --static "$out" "$BUILD/rust/vmlinux" "$BUILD/c/vmlinux"
build_unlock
t_built=$(date +%s)

python3 - "$out/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
    "mode": "$mode",
    "qemu_opts": "$qemu_opts",
    "accel": "${VM_ACCEL:-$(accel "$BUILD/rust/$ARCH_IMAGE")}",
    "boots": $boots,
    "scale": $scale,
    "runs": $runs,
    "kernels": "${kernels[*]}".split(),
    "series": "$series",
    "git_head": "$(git -C "$TOP" rev-parse HEAD)",
    "git_series_changes": "$(git -C "$TOP" status --porcelain -- c-glue rust-module kconfig | wc -l)",
    "bzimage": {$(for v in "${kernels[@]}"; do printf '"%s": "%s", ' "$v" "${image_sum[$v]}"; done)},
    "kernel_release": "$(cat "$BUILD/rust/include/config/kernel.release" 2>/dev/null)",
}, open(sys.argv[1], "w"), indent=1)
EOF
log "series $series; results in $out"

# What else the guest runs and holds when the benchmark starts, per boot
# ($i-$v.env): to look for the cause when one boot differs from the others.
# shellcheck disable=SC2016 # expanded in the guest
envdump='for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm 2>/dev/null)"; done; cat /proc/meminfo /proc/interrupts /proc/vmstat'
guest="echo 0 >/proc/sys/kernel/randomize_va_space && d=\$(mktemp -d) && mount -t tmpfs bench \$d && \
cp $bin \$d/ && for r in $(seq -s ' ' "$runs"); do \$d/autokill-bench --clock $clock --scale $scale || exit 1; done"
boot_times=()
for i in $(seq "$boots"); do
	for v in "${kernels[@]}"; do
		[ "$(sha256sum <"$BUILD/$v/$ARCH_IMAGE" | cut -c1-16)" = "${image_sum[$v]}" ] ||
			die "the $v kernel was rebuilt during the benchmark: its numbers would mix two kernels; run it again"
		t0=$(date +%s)
		VM_CPUS=1 VM_RWDIR=$out VM_TIMEOUT=900 VM_QEMU_OPTS=$qemu_opts \
			step "boot $i/$boots: $v kernel ($mode)" \
			"$S/vm.sh" "$v" "{ $envdump; } >$out/$i-$v.env 2>&1; $guest >$out/$i-$v.json" ||
			die "the benchmark failed in the $v kernel (boot $i)"
		boot_times+=("$(($(date +%s) - t0))")
	done
done
t_booted=$(date +%s)
IFS=,
printf '{"lock_wait_s": %s, "build_and_static_s": %s, "boots_s": %s, "boot_s": [%s]}\n' \
	"$((t_locked - t_start))" "$((t_built - t_locked))" "$((t_booted - t_built))" \
	"${boot_times[*]}" >"$out/times.json"
unset IFS
rc=0
python3 "$S/bench.py" "$out" || rc=$?
if [ -z "$check" ] && [ "$mode" = insns ] && [ -f "$out/ratios.svg" ] && [ "$KCACHE" = "$CACHE" ]; then
	mkdir -p "$TOP/bench"
	cp "$out/ratios.svg" "$out/summary.txt" "$TOP/bench/"
	log "copied ratios.svg and summary.txt to $TOP/bench/"
fi
log "make bench took $(($(date +%s) - t_start))s (waiting for the build lock $((t_locked - t_start))s, build check and static $((t_built - t_locked))s, ${#boot_times[@]} boots $((t_booted - t_built))s)"
exit "$rc"
