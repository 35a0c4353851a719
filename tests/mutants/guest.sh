#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the VM on a mutant kernel (make mutants): the suites that must
# notice a wrong change to the in-kernel Rust code, recorded in OUT as
# make test records them (tests/results/record.sh); results.py judges
# them on the host.
# Usage: guest.sh OUT SELFTESTS_DIR BIN_DIR
set -u
out=$1 selftests=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results/record.sh
. "$here/../results/record.sh"
record_init "$out"

record_run kunit kunit 60 / dmesg --notime
record_run selftests/pidfd/pidfd_autoreap_test ktap 120 "$selftests/pidfd" ./pidfd_autoreap_test
AUTOKILL_REQUIRE_SUPPORT=1 record_run conformance ktap 900 / "$bin/autokill-conformance"
exit 0
