#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM for `make run`: what kernel this is, which
# implementation serves CLONE_PIDFD_AUTOKILL, and a one-shot autokill check.
set -u
selftest=$1

if grep -qw clone_autokill_flags_check /proc/kallsyms; then impl=Rust; else impl=C; fi
echo "kernel:         $(uname -r)"
echo "implementation: $impl (CONFIG_PIDFD_AUTOKILL_RUST=$([ $impl = Rust ] && echo y || echo n))"
echo "one-shot check: clone3(CLONE_PIDFD|CLONE_AUTOREAP|CLONE_PIDFD_AUTOKILL), close the pidfd,"
echo "                the child must die (upstream selftest autokill_basic):"
if "$selftest" -t autokill_basic >/tmp/out 2>&1; then
	echo "                PASS: the child was killed when its pidfd was closed"
else
	sed 's/^/                /' /tmp/out
	echo "                FAIL"
	exit 1
fi
