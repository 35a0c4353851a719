#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark the Rust path against the C path: build both kernels from the
# same tree and config, boot them alternately (rust c rust c ...) under the
# same VM settings, run autokill-bench in each, and print the Rust/C ratio
# per case plus a static comparison of the two vmlinux images.
# The VM has one vCPU, so that parent and child never race across CPUs.
# BENCH_BOOTS (default 5) boots per kernel; BENCH_SAMPLES (default 101).
. "$(dirname "$0")/lib.sh"

S=$TOP/scripts
boots=${BENCH_BOOTS:-5}
samples=${BENCH_SAMPLES:-101}
"$S/apply.sh"
for v in rust c; do
	"$S/configure.sh" "$v"
	"$S/build.sh" "$v"
done
step "cargo build autokill-bench" cargo build -q --release -p autokill-bench --manifest-path "$TOP/Cargo.toml"
bin=$CARGO_TARGET_DIR/release/autokill-bench

out=$KCACHE/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
for i in $(seq "$boots"); do
	for v in rust c; do
		VM_CPUS=1 VM_RWDIR=$out VM_TIMEOUT=1200 step "boot $i/$boots: $v kernel" \
			"$S/vm.sh" "$v" "$bin --samples $samples >$out/$i-$v.json" ||
			die "the benchmark failed in the $v kernel (boot $i)"
	done
done
python3 "$S/bench.py" "$out" "$BUILD/rust/vmlinux" "$BUILD/c/vmlinux" "$(cat "$CACHE/last-accel")"
