#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: boot the Rust kernel and show CLONE_PIDFD_AUTOKILL at work.
. "$(dirname "$0")/lib.sh"

step "cargo build autokill-run" cargo build -q --release "${GUEST_CARGO[@]}" -p autokill \
	--manifest-path "$TOP/Cargo.toml"
"$TOP/scripts/vm.sh" rust "$TOP/tests/vm/demo.sh $GUEST_BIN/autokill-run $(accel "$BUILD/rust/$ARCH_IMAGE" | tr '[:lower:]' '[:upper:]')"
