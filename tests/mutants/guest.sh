#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the VM on a mutant kernel (make mutants): the suites that must
# notice a wrong change to the in-kernel Rust code. Prints one line per
# suite, "NAME ok" or "NAME FAILED", and keeps the outputs in OUT.
# Usage: guest.sh OUT SELFTESTS_DIR BIN_DIR
set -u
out=$1 selftests=$2 bin=$3

dmesg --notime >"$out/dmesg.log"
if grep -qE '^[[:space:]]*not ok ' "$out/dmesg.log" ||
	! grep -q '# Subtest: clone_autokill$' "$out/dmesg.log" ||
	! grep -q '# Subtest: pidfs_autokill$' "$out/dmesg.log"; then
	echo "kunit FAILED"
else
	echo "kunit ok"
fi

if (cd "$selftests/pidfd" && timeout -k 5 120 ./pidfd_autoreap_test) >"$out/pidfd_autoreap_test.log" 2>&1; then
	echo "pidfd_autoreap_test ok"
else
	echo "pidfd_autoreap_test FAILED"
fi

if AUTOKILL_REQUIRE_SUPPORT=1 timeout -k 5 900 "$bin/autokill-conformance" >"$out/conformance.log" 2>&1; then
	echo "conformance ok"
else
	echo "conformance FAILED"
fi
