#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: boot the Rust kernel and show CLONE_PIDFD_AUTOKILL at work.
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/selftests.sh"
"$TOP/scripts/vm.sh" rust "$TOP/tests/vm/demo.sh $CACHE/selftests/pidfd/pidfd_autoreap_test"
