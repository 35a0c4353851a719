#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make mutants: apply, one at a time, each small wrong change of
# tests/mutants/mutants.py to the in-kernel Rust code, rebuild
# incrementally, boot the mutant kernel and run the suites that must
# notice it (KUnit, pidfd_autoreap_test, the conformance suite, and the
# host test of the rules against the C function). Prints
# a table: mutant, the suites that killed it, time. Fails if a mutant
# survives. MUTANTS="id ..." runs only those.
#
# The mutants are planted in the working tree and built in the Rust
# kernel's build directory, so that each one is an incremental build;
# the build lock is held throughout and the tree is restored on exit
# (scripts/apply.sh would restore it too). Mutants build without CLIPPY=1
# and with rustc's unused lints allowed: a mutant must be caught by a
# test, not refused by a lint (one that does not build counts as
# surviving). The Rust kernel is not built with clippy first: the unchanged
# tree is built once without it, below. The next `make kernel` rebuilds
# the Rust objects as usual.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/results/record.sh
. "$TOP/tests/results/record.sh"

S=$TOP/scripts
M=$TOP/tests/mutants
"$S/apply.sh"
"$S/configure.sh" rust
"$S/selftests.sh"
step "cargo build (release) of the conformance suite" cargo build -q --release \
	"${GUEST_CARGO[@]}" -p autokill-conformance --manifest-path "$TOP/Cargo.toml"

tree=$WORK
O=$BUILD/rust
out=$KCACHE/mutants
rm -rf "$out"
mkdir -p "$out" "$LOGS"
build_lock
# mbuild LOG: the mutant kernel, without clippy (CLIPPY= overrides the
# build's CLIPPY=1); an import or variable a mutant leaves unused is no
# error (CONFIG_WERROR makes every warning one).
mbuild() {
	: >"$1"
	KMAKE_LOG=$1 kbuild "$tree" "$O" CLIPPY= KRUSTFLAGS="-A unused"
}
# The pristine versions of the files the mutants change: the series' own.
pristine=$out/pristine
files=$(python3 "$M/mutants.py" list | awk '{ print $2 }' | sort -u)
for f in $files; do
	mkdir -p "$pristine/$(dirname "$f")"
	cp -p "$tree/$f" "$pristine/$f"
done
restore() {
	for f in $files; do cmp -s "$pristine/$f" "$tree/$f" || cp "$pristine/$f" "$tree/$f"; done
}
trap restore EXIT
step "build the unchanged tree without clippy" mbuild "$LOGS/build-mutant.log" ||
	die "the unchanged tree does not build without clippy (log: $LOGS/build-mutant.log)"

host=$out/host-tree
ids=${MUTANTS:-$(python3 "$M/mutants.py" list | awk '{ print $1 }')}
table=$out/table.txt
printf '%-28s %-44s %6s\n' mutant "killed by" time >"$table"
survivors=0
for id in $ids; do
	t0=$(date +%s)
	restore
	python3 "$M/mutants.py" apply "$id" "$tree" || die "mutant $id does not apply"
	mkdir -p "$out/$id"
	if ! mbuild "$out/$id/build.log" 2>/dev/null; then
		killed="(does not build: $out/$id/build.log)"
		survivors=$((survivors + 1))
	else
		VM_RWDIR=$out/$id VM_TIMEOUT=${MUTANT_TIMEOUT:-$D_MUTANT_TIMEOUT} "$S/vm.sh" rust \
			"$M/guest.sh $out/$id $KCACHE/selftests $GUEST_BIN" \
			>"$out/$id/vm.log" 2>&1
		# The host test of the rules (tests/rules: the Rust rules against
		# the C function of the tree, what each case consults included),
		# on a copy of the project with the mutant in rust-module/.
		rsync -a --delete --exclude=.git --exclude=target "$TOP/" "$host/"
		python3 "$M/mutants.py" apply "$id" "$host/rust-module" >/dev/null
		# rsync gave the pristine files their old times: without this,
		# cargo would keep the test binary of the previous mutant. Its own
		# target directory: rules.rs lies outside the crate, so cargo
		# records it by its absolute path, and in the shared one the copy's
		# test would be checked against (and left built from) this
		# checkout's unchanged rules.rs.
		touch "$host/rust-module/kernel/clone_autokill/rules.rs"
		# Its outcome goes into the mutant's run record, beside the VM's.
		RECORD_DIR=$out/$id CARGO_TARGET_DIR=$out/host-target record_run host-rules libtest 0 / \
			cargo test -p clone-autokill-rules --manifest-path "$host/Cargo.toml" -- --show-output || true
		# What killed it: the suites results.py judges failed, as in make
		# test (the VM's record and the host's, one record).
		killed=$(python3 -B "$TOP/tests/results/results.py" failed "$out/$id" rust | paste -sd, | sed 's/,/, /g') ||
			killed="the results (results.py failed: $out/$id)"
		if ! grep -q ' kunit ' "$out/$id/runs"; then
			killed="the VM (no suite ran: $out/$id/vm.log)"
		fi
		[ -n "$killed" ] || { killed="SURVIVED"; survivors=$((survivors + 1)); }
	fi
	printf '%-28s %-44s %5ss\n' "$id" "$killed" $(($(date +%s) - t0)) | tee -a "$table"
done
restore
echo
cat "$table"
log "$(wc -w <<<"$ids") mutants, $survivors survived (outputs in $out)"
[ "$survivors" -eq 0 ]
