# SPDX-License-Identifier: GPL-2.0
# CLONE_PIDFD_AUTOKILL in Rust: the one entry point. `make help` lists the
# targets. Every target does its own prerequisites.

S := scripts
# The facts (the cache, the kernels, the variants): scripts/harness.py.
HARNESS := python3 -B $(S)/harness.py
CACHE ?= $(shell $(HARNESS) cache)
export AUTOKILL_CACHE := $(CACHE)
DEFAULT_KVER := $(shell $(HARNESS) kernel)
export KSRC KVER

.PHONY: help setup source apply kernel kernel-c kernel-debug vm shell run test check kunit bench bench-spawn patches series-build mutants kcsan matrix min-toolchain man-pages clean

help:
	@echo "CLONE_PIDFD_AUTOKILL in Rust: build, boot and test a Rust-enabled Linux $(or $(KVER),$(DEFAULT_KVER))"
	@echo
	@echo "  make run        build (if needed) and boot the Rust kernel, show autokill at work"
	@echo "  make test       every test: host, KUnit, selftests, on the Rust and C kernels"
	@echo "                  (ARCH=arm64: the arm64 Rust and C kernels, the programs cross-built)"
	@echo "  make check      the inner loop: rebuild the Rust kernel, one boot: KUnit, selftests, conformance"
	@echo
	@echo "  make setup      install the toolchain (Debian packages, bindgen, virtme-ng)"
	@echo "  make source     fetch Linux $(or $(KVER),$(DEFAULT_KVER)) (or check KSRC=/path/to/linux)"
	@echo "  make apply      apply the series to a working copy of the source"
	@echo "  make kernel     build the Rust kernel (CONFIG_PIDFD_AUTOKILL_RUST=y)"
	@echo "  make kernel-c   build the C baseline (same tree, the option off)"
	@echo "  make kernel-debug  the Rust kernel with KASAN, lockdep, PROVE_RCU, ..."
	@echo "  make vm CMD='...' [VARIANT=c|debug]  run a command in the VM (default rust)"
	@echo "  make shell [VARIANT=c|debug]         a shell in the VM"
	@echo "  make kunit      the series' KUnit tests with the tree's kunit.py (kernel/clone_autokill/.kunitconfig)"
	@echo "  make bench      Rust vs C kernel, alternating boots: ratios per case"
	@echo "  make bench-spawn  spawn cost by parent size (1 MiB..4 GiB): autokill's vfork and fork"
	@echo "                  paths vs std and tokio, on the host and in the VM (instructions)"
	@echo "  make patches    the series as RFC git format-patch files on vanilla Linux, cover letter, To/Cc from"
	@echo "                  get_maintainer.pl; git am onto each kernel tree in the cache; checkpatch.pl --strict"
	@echo "  make series-build  build the kernel at every commit of the series, in order, for x86_64, arm64, um"
	@echo "  make kcsan      the Rust and C kernels with KCSAN, under a data race load: no report in our code"
	@echo "  make matrix     every architecture Rust-for-Linux supports: build, KUnit and doctests (kunit.py)"
	@echo "  make min-toolchain  build and rustdoc with the kernel's minimum rustc and bindgen (a Debian chroot)"
	@echo "  make mutants    plant each wrong change of tests/mutants/ in the Rust code: all must be caught"
	@echo "  make man-pages  the clone(2) patch for man-pages (docs/man-pages/), from man-pages 6.03"
	@echo "  make clean      delete the build directories (keeps toolchain and source)"
	@echo
	@echo
	@echo "Settings (environment or make variables; the kernel variants and what each runs:"
	@echo "scripts/harness.py):"
	@$(HARNESS) knobs
	@echo
	@echo "Cache: $(CACHE) (safe to delete; AUTOKILL_CACHE=... moves it)"

setup:
	@$(S)/setup.sh

source: setup
	@$(S)/fetch-source.sh

apply: source
	@$(S)/apply.sh

kernel: apply
	@$(S)/configure.sh rust
	@$(S)/build.sh rust

kernel-c: apply
	@$(S)/configure.sh c
	@$(S)/build.sh c

kernel-debug: apply
	@$(S)/configure.sh debug
	@$(S)/build.sh debug

VARIANT ?= rust
KERNEL_TARGET = $(shell $(HARNESS) variant $(VARIANT) make_target)
vm: $(KERNEL_TARGET)
	@$(S)/vm.sh $(VARIANT) "$(CMD)"

shell: $(KERNEL_TARGET)
	@$(S)/vm.sh $(VARIANT)

run: kernel
	@$(S)/run.sh

test:
	@$(S)/test.sh

check:
	@$(S)/test.sh --check

kunit: source
	@$(S)/kunit.sh

bench: apply
	@$(S)/bench.sh

bench-spawn: apply
	@$(S)/spawn-bench.sh

patches: apply
	@$(S)/export-patches.sh

series-build: source
	@$(S)/build-series.sh

mutants: source
	@$(S)/mutants.sh

kcsan: source
	@$(S)/test.sh --kcsan

matrix: source
	@$(S)/matrix.sh

min-toolchain: apply
	@$(S)/min-toolchain.sh

man-pages:
	@$(S)/man-pages.sh

clean:
	rm -rf "$(CACHE)/build" "$(CACHE)/results" "$(CACHE)/work" "$(CACHE)/kver" "$(CACHE)/ksrc"
