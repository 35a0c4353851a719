#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the toolchain: Debian packages, bindgen-cli (pinned, into the
# cache), virtme-ng and ruff (pinned, in a venv in the cache) and the
# modules of the tree's scripts/spdxcheck.py, which checkpatch.pl runs.
# The versions: scripts/harness.py. Idempotent.
. "$(dirname "$0")/lib.sh"

L=$LLVM_VERSION
PKGS=(clang-"$L" lld-"$L" llvm-"$L" libclang-"$L"-dev rustc-web rust-web-src
	rust-web-clippy rustfmt-web flex bison bc libelf-dev libssl-dev cpio
	qemu-system-x86 udev ccache rsync python3-venv busybox-static kmod
	iproute2 libcap-dev libc6-dev shellcheck mandoc groff-base man-db)
# Another architecture (ARCH): its QEMU, and the C cross compiler and C
# library of the guest's programs (the selftests, the Rust programs' linker).
[ -z "$ARCH_TRIPLET" ] ||
	PKGS+=("$ARCH_QEMU_PACKAGE" "gcc-$ARCH_TRIPLET" "libc6-dev-$ARCH_DEBIAN-cross")

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}; run 'make setup' as root (apt-get install)"
	step "apt-get install ${missing[*]}" sh -c \
		"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null" ||
		die "apt-get failed; check the machine's apt sources and network, then rerun 'make setup'"
fi

mkdir -p "$TOOLS" "$LOGS"
if ! "$TOOLS/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	step "cargo install bindgen-cli $BINDGEN_VERSION" \
		cargo install --quiet --locked --root "$TOOLS" bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli failed; check cargo's registry access and rerun 'make setup'"
fi

if ! "$VENV/bin/vng" --version 2>/dev/null | grep -q "$VNG_VERSION"; then
	rm -rf "$VENV"
	step "virtme-ng $VNG_VERSION in $VENV" sh -c \
		"python3 -m venv '$VENV' && '$VENV/bin/pip' install -q 'virtme-ng==$VNG_VERSION'" ||
		{ rm -rf "$VENV"; die "pip install virtme-ng failed; check pip's index access and rerun 'make setup'"; }
fi

# scripts/spdxcheck.py (run by checkpatch.pl in a git tree) imports ply
# and git (GitPython); python3 on PATH is the venv's.
# ruff: the Python linter of make test.
PYDEPS=(ply==3.11 GitPython==3.1.45 "ruff==$RUFF_VERSION")
if ! "$VENV/bin/python3" -c 'import ply, git' 2>/dev/null ||
	[ "$("$VENV/bin/ruff" --version 2>/dev/null)" != "ruff $RUFF_VERSION" ]; then
	step "pip install ${PYDEPS[*]} into $VENV" "$VENV/bin/pip" install -q "${PYDEPS[@]}" ||
		die "pip install ${PYDEPS[*]} failed; check pip's index access and rerun 'make setup'"
fi
