#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM for `make run`: a `sleep` started by a plain spawn
# outlives its SIGKILLed parent; the same `sleep` under autokill-run dies
# with it. Then: kernel, accelerator, and which implementation served.
# Usage: demo.sh AUTOKILL_RUN ACCELERATOR
set -u
autokill_run=$1
accel=$2

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# child_of PID: the pid of PID's only child, waiting for it to appear.
child_of() {
	local _ c
	for _ in $(seq 100); do
		c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
		[ -n "$c" ] && { echo "${c%% *}"; return; }
		sleep 0.05
	done
}

# gone PID: wait up to 5 s for PID to disappear.
gone() {
	local _
	for _ in $(seq 100); do
		alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

# Plain spawn: the parent is a shell that starts sleep and waits.
sh -c 'sleep 1000 & wait' &
plain_parent=$!
plain_child=$(child_of "$plain_parent")
kill -KILL "$plain_parent"
wait "$plain_parent" 2>/dev/null
sleep 1
if alive "$plain_child"; then plain="still running (pid $plain_child, orphaned)"; else plain="gone"; fi

# The same under autokill-run.
"$autokill_run" sleep 1000 &
ak_parent=$!
ak_child=$(child_of "$ak_parent")
kill -KILL "$ak_parent"
wait "$ak_parent" 2>/dev/null
if gone "$ak_child"; then ak="killed by the kernel"; else ak="STILL RUNNING (pid $ak_child)"; fi

if grep -qw clone_autokill_flags_check /proc/kallsyms; then impl=Rust; else impl=C; fi
printf '\n%-36s  %-14s  %s\n' "how \`sleep 1000\` was started" "its parent" "the sleep afterwards"
printf '%-36s  %-14s  %s\n' "------------------------------------" "--------------" "------------------------------"
printf '%-36s  %-14s  %s\n' "plain spawn (sh -c 'sleep 1000 &')" "SIGKILLed" "$plain"
printf '%-36s  %-14s  %s\n' "autokill-run sleep 1000" "SIGKILLed" "$ak"
printf '\nkernel:          %s\n' "$(uname -r)"
printf 'accelerator:     %s\n' "$accel"
printf 'implementation:  %s (pidfs_file_release and clone3 validation)\n' "$impl"
kill -KILL "$plain_child" 2>/dev/null
[ "$ak" = "killed by the kernel" ]
