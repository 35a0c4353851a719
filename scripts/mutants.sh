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

S=$TOP/scripts
M=$TOP/tests/mutants
"$S/apply.sh"
"$S/configure.sh" rust
"$S/selftests.sh"
step "cargo build (release) of the conformance suite" cargo build -q --release \
	-p autokill-conformance --manifest-path "$TOP/Cargo.toml"

tree=$WORK
O=$BUILD/rust
out=$KCACHE/mutants
rm -rf "$out"
mkdir -p "$out" "$LOGS"
build_lock
args=()
for a in "${KMAKE_ARGS[@]}"; do
	case "$a" in CLIPPY=*) ;; *) args+=("$a") ;; esac
done
# An import or variable a mutant leaves unused is no error (CONFIG_WERROR
# makes every warning one).
args+=(KRUSTFLAGS="-A unused")
export CCACHE_DIR=$CACHE/ccache CCACHE_BASEDIR=$CACHE CCACHE_NOHASHDIR=1
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
kbuild() {
	make -C "$tree" O="$O" "${args[@]}" CC="ccache clang-19" -j"$(nproc)" bzImage >"$1" 2>&1
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
step "build the unchanged tree without clippy" kbuild "$LOGS/build-mutant.log" ||
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
	if ! kbuild "$out/$id/build.log"; then
		killed="(does not build: $out/$id/build.log)"
		survivors=$((survivors + 1))
	else
		VM_RWDIR=$out/$id VM_TIMEOUT=${MUTANT_TIMEOUT:-1200} "$S/vm.sh" rust \
			"$M/guest.sh $out/$id $KCACHE/selftests $CARGO_TARGET_DIR/release" \
			>"$out/$id/suites.txt" 2>"$out/$id/vm.log"
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
		if CARGO_TARGET_DIR=$out/host-target cargo test -q -p clone-autokill-rules \
			--manifest-path "$host/Cargo.toml" \
			>"$out/$id/host-rules.log" 2>&1; then
			echo "host-rules ok" >>"$out/$id/suites.txt"
		else
			echo "host-rules FAILED" >>"$out/$id/suites.txt"
		fi
		killed=$(awk '$2 == "FAILED" { printf "%s%s", sep, $1; sep = ", " }' "$out/$id/suites.txt")
		if ! grep -q ' ok$\| FAILED$' "$out/$id/suites.txt"; then
			killed="the VM (no suite finished: $out/$id/vm.log)"
		fi
		[ -n "$killed" ] || { killed="SURVIVED"; survivors=$((survivors + 1)); }
	fi
	printf '%-28s %-44s %5ss\n' "$id" "$killed" $(($(date +%s) - t0)) | tee -a "$table"
done
restore
echo
cat "$table"
log "$(echo $ids | wc -w) mutants, $survivors survived (outputs in $out)"
[ "$survivors" -eq 0 ]
