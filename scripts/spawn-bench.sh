#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The cost of a spawn by the parent's size (`make bench-spawn`): run
# autokill-spawn-bench (userspace/autokill-bench) on the host and in the VM
# on the Rust kernel, and summarise both: per parent size and library
# (autokill's vfork and fork paths, std::process::Command,
# tokio::process::Command) the time until spawn() returned and until the
# exit status was there, the parent's cost of touching its heap again,
# whether autokill's default path stays within 1.1x of std at every size
# and flat in the parent's size, and a plot (spawn.svg).
#
# Usage: spawn-bench.sh [--host-only | --vm-only]
#
# Host: wall time, with whatever else the machine runs (its load average
#   before and after is noted); autokill's paths run unarmed on a kernel
#   without CLONE_PIDFD_AUTOKILL (the JSON says armed=false).
# VM: the Rust kernel (built first, as make bench builds it), booted once
#   with one vCPU under QEMU -icount shift=0,sleep=off (TCG): the guest's
#   clock advances 1 ns per executed guest instruction, so its µs are
#   thousands of instructions, the same in every boot. Memory: the largest
#   parent plus 2 GiB. The benchmark runs in a chroot on a tmpfs with
#   /bin/true and the libraries it loads copied in: no spawn waits for 9p
#   (an idle vCPU under sleep=off jumps the clock to the next timer), and
#   user-space address randomization is off, as in make bench.
# SPAWN_BENCH_SIZES: the parents' sizes in MiB, comma-separated;
# SPAWN_BENCH_ITERATIONS: timed spawns per case (size and library). Their
# defaults: `make help`.
#
# Results go to $KCACHE/bench/spawn-<time>/: host.json and vm.json (what
# autokill-spawn-bench printed), vm.env (the guest's meminfo and vmstat
# before it started), guest.sh (what the guest ran), meta.json,
# summary.txt (what is printed at the end), summary.json and spawn.svg. A
# run of both halves with the default sizes also copies spawn.svg and
# summary.txt to bench/ in the repository as spawn.svg and spawn.txt (the
# default kernel only).
. "$(dirname "$0")/lib.sh"
# The benchmarks' clock is x86_64's (the TSC, counting instructions
# under QEMU icount; autokill-bench's rdtsc()).
[ -n "$ARCH_DEFAULT" ] || die "ARCH=$ARCH_NAME: the benchmarks run on the default architecture only (without ARCH)"

t_start=$(date +%s)
host=1 vm=1
for a in "$@"; do
	case "$a" in
	--host-only) vm= ;;
	--vm-only) host= ;;
	*) die "usage: spawn-bench.sh [--host-only | --vm-only]" ;;
	esac
done
[ -n "$host$vm" ] ||
	die "--host-only and --vm-only exclude each other"
sizes=${SPAWN_BENCH_SIZES:-$D_SPAWN_BENCH_SIZES}
iterations=${SPAWN_BENCH_ITERATIONS:-$D_SPAWN_BENCH_ITERATIONS}
[[ $sizes =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
	die "SPAWN_BENCH_SIZES is a comma-separated list of MiB, not '$sizes'"
[[ $iterations =~ ^[1-9][0-9]*$ ]] ||
	die "SPAWN_BENCH_ITERATIONS is a number of spawns, not '$iterations'"
largest=$(tr , '\n' <<<"$sizes" | sort -n | tail -1)
S=$TOP/scripts
qemu_opts="-icount shift=0,sleep=off"
vm_memory=$(((largest + 1023) / 1024 + 2))G

# Linked statically, as make bench's autokill-bench: in the guest it runs
# from a tmpfs without a library of its own.
target=$ARCH_RUST_TARGET
RUSTFLAGS="-C target-feature=+crt-static" step "cargo build autokill-spawn-bench (static)" \
	cargo build -q --release -p autokill-bench --target "$target" --manifest-path "$TOP/Cargo.toml"
bin=$CARGO_TARGET_DIR/$target/release/autokill-spawn-bench
out=$KCACHE/bench/spawn-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
log "results in $out"

# The Rust kernel from the series as it is, built under the build lock as
# make bench builds it.
t_built=$t_start
if [ -n "$vm" ]; then
	build_lock
	"$S/apply.sh"
	"$S/configure.sh" rust
	"$S/build.sh" rust
	build_unlock
	t_built=$(date +%s)
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
t_host=0
load_before='' load_after=''
if [ -n "$host" ]; then
	avail=$(awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo)
	[ "$avail" -gt $((largest + 512)) ] ||
		die "a $largest MiB parent needs that much memory and more; the host has $avail MiB available (SPAWN_BENCH_SIZES)"
	t0=$(date +%s)
	load_before=$(loadavg)
	step "host: autokill-spawn-bench --sizes $sizes --iterations $iterations" \
		"$bin" --sizes "$sizes" --iterations "$iterations" >"$out/host.json" ||
		die "the benchmark failed on the host"
	load_after=$(loadavg)
	t_host=$(($(date +%s) - t0))
fi

# In the guest (written to guest.sh, run there with bash): the benchmark
# in a chroot on a tmpfs with /bin/true, its loader, its libraries and
# ld.so.cache, with /proc and /dev; its output kept on the tmpfs until it
# ends.
# Usage: guest BIN SIZES ITERATIONS OUT FILE...
# shellcheck disable=SC2317,SC2329 # run in the guest, through guest.sh
guest() {
	set -eu
	local bin=$1 sizes=$2 iterations=$3 out=$4 root f rc=0
	shift 4
	PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
	cat /proc/meminfo /proc/vmstat >"$out/vm.env" 2>&1
	echo 0 >/proc/sys/kernel/randomize_va_space
	root=$(mktemp -d)
	mount -t tmpfs spawn-bench "$root"
	mkdir -p "$root/proc" "$root/dev"
	cp "$bin" "$root/autokill-spawn-bench"
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	chroot "$root" /autokill-spawn-bench --sizes "$sizes" --iterations "$iterations" \
		>"$root/vm.json" || rc=$?
	cp "$root/vm.json" "$out/vm.json"
	return "$rc"
}

t_vm=0
image_sum='' kernel_release=''
if [ -n "$vm" ]; then
	# What /bin/true loads: its interpreter and libraries (the guest's root
	# is the host's).
	mapfile -t files < <(printf '/bin/true\n'
		ldd /bin/true | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'
		[ ! -f /etc/ld.so.cache ] || printf '/etc/ld.so.cache\n')
	{
		printf '# Run in the guest by %s, %s.\n' "$0" "$(date -u +%Y-%m-%dT%H:%MZ)"
		declare -f guest
		printf 'guest'
		printf ' %q' "$bin" "$sizes" "$iterations" "$out" "${files[@]}"
		printf '\n'
	} >"$out/guest.sh"
	image=$BUILD/rust/$ARCH_IMAGE
	image_sum=$(sha256sum <"$image" | cut -c1-16)
	kernel_release=$(cat "$BUILD/rust/include/config/kernel.release" 2>/dev/null || true)
	t0=$(date +%s)
	VM_CPUS=1 VM_MEMORY=$vm_memory VM_RWDIR=$out VM_TIMEOUT=${VM_TIMEOUT:-7200} \
		VM_QEMU_OPTS=$qemu_opts VM_ACCEL=tcg \
		step "VM: the rust kernel $kernel_release, $qemu_opts, $vm_memory" \
		"$S/vm.sh" rust "bash $(printf %q "$out/guest.sh")" ||
		die "the benchmark failed in the VM (partial output: $out/vm.json)"
	[ "$(sha256sum <"$image" | cut -c1-16)" = "$image_sum" ] ||
		die "the rust kernel was rebuilt while it ran the benchmark: run it again"
	t_vm=$(($(date +%s) - t0))
fi

SB_DATE=$(date -u +%Y-%m-%dT%H:%MZ) SB_SIZES=$sizes SB_ITERATIONS=$iterations \
	SB_HEAD=$(git -C "$TOP" rev-parse HEAD) \
	SB_CHANGES=$(git -C "$TOP" status --porcelain -- userspace | wc -l) \
	SB_BIN=$(sha256sum <"$bin" | cut -c1-16) \
	SB_HOST=$host SB_HOST_KERNEL=$(uname -r) SB_LOAD_BEFORE=$load_before SB_LOAD_AFTER=$load_after \
	SB_CPU=$(awk -F': ' '$1 ~ /^model name/ { print $2; exit }' /proc/cpuinfo) \
	SB_VM=$vm SB_QEMU_OPTS=$qemu_opts SB_MEMORY=$vm_memory SB_IMAGE=$image_sum \
	SB_RELEASE=$kernel_release \
	SB_TIMES="$((t_built - t_start)) $t_host $t_vm" \
	python3 - "$out/meta.json" <<'EOF'
import json, os, sys
e = os.environ
build_s, host_s, vm_s = map(int, e["SB_TIMES"].split())
meta = {
    "date": e["SB_DATE"],
    "sizes_mib": [int(s) for s in e["SB_SIZES"].split(",")],
    "iterations": int(e["SB_ITERATIONS"]),
    "git_head": e["SB_HEAD"],
    "git_userspace_changes": int(e["SB_CHANGES"]),
    "binary": e["SB_BIN"],
    "times_s": {"build": build_s, "host": host_s, "vm": vm_s},
}
if e["SB_HOST"]:
    meta["host"] = {"kernel": e["SB_HOST_KERNEL"], "cpu": e["SB_CPU"],
                    "loadavg_before": e["SB_LOAD_BEFORE"], "loadavg_after": e["SB_LOAD_AFTER"]}
if e["SB_VM"]:
    meta["vm"] = {"qemu_opts": e["SB_QEMU_OPTS"], "accel": "tcg", "cpus": 1,
                  "memory": e["SB_MEMORY"], "kernel_release": e["SB_RELEASE"],
                  "bzimage": e["SB_IMAGE"]}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF

python3 "$S/bench.py" --spawn "$out"
if [ -n "$host" ] && [ -n "$vm" ] && [ "$sizes" = "$D_SPAWN_BENCH_SIZES" ] && [ "$KCACHE" = "$CACHE" ]; then
	mkdir -p "$TOP/bench"
	cp "$out/spawn.svg" "$TOP/bench/spawn.svg"
	cp "$out/summary.txt" "$TOP/bench/spawn.txt"
	log "copied spawn.svg and summary.txt (as spawn.txt) to $TOP/bench/"
fi
log "make bench-spawn took $(($(date +%s) - t_start))s (kernel build $((t_built - t_start))s, host ${t_host}s, VM ${t_vm}s)"
