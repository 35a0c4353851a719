#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Export the series as an RFC: `git format-patch --rfc --cover-letter`
# files (version $SERIES_VERSION), based on upstream Linux ($VANILLA, so
# that the index lines name upstream blobs) or, with KSRC, on the user's
# tree (a git checkout's HEAD is recorded as base-commit:). To: and Cc:
# come from scripts/get_maintainer.pl: the maintainers and reviewers, and
# the lists, of each patch; of all of them for the cover letter. Then the
# patches must apply with `git am` to the base, to the tree the build uses
# (giving the working tree's files) and to every other kernel tree in the
# cache (one line each), and pass checkpatch.pl --strict. OUT=dir chooses
# where (default: $TCACHE/patches). The author and Signed-off-by are the
# repository's git user. To edit the series as git commits:
#   scripts/series.py checkout <pristine tree> DIR; (git in DIR);
#   scripts/series.py save DIR
. "$(dirname "$0")/lib.sh"

SRC=$(source_tree)
out=$(realpath -m "${OUT:-$TCACHE/patches}")
repo=$TCACHE/export
amdir=$TCACHE/export-am
name=$(git -C "$TOP" config user.name || true)
email=$(git -C "$TOP" config user.email || true)
if [ -z "$name" ] || [ -z "$email" ]; then
	die "set git user.name and user.email (the patches' author and Signed-off-by)"
fi
[ -s "$WORK/.autokill-files" ] || die "the series is not applied in $WORK; run 'make apply' first"

# The base: upstream Linux of the same version, else (KSRC, or no vanilla
# tree to be had) the tree the build uses.
BASE=$SRC
if [ -n "$VANILLA" ]; then
	if "$TOP/scripts/fetch-source.sh" --vanilla; then
		BASE=$VANILLA
	else
		log "warning: no vanilla Linux $KVER (above): the patches are based on $SRC, their index lines name its blobs"
	fi
fi

# The other Debian kernels' trees, for the git am check below.
if [ -z "${KSRC:-}" ]; then
	for v in "${KVERS[@]}"; do
		[ "$v" = "$KVER" ] || KVER=$v "$TOP/scripts/fetch-source.sh" ||
			log "warning: no Debian Linux $v tree (above): git am onto it not checked"
	done
fi

export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
python3 "$TOP/scripts/series.py" checkout "$BASE" "$repo"

rm -rf "$out"
mkdir -p "$out"
fpopts=(--rfc --cover-letter -o "$out")
[ "$SERIES_VERSION" -le 1 ] || fpopts+=(-v "$SERIES_VERSION")
# 12-digit index lines, as from a kernel checkout.
git -C "$repo" -c core.abbrev=12 format-patch -q "${fpopts[@]}" base..HEAD
cover=$(find "$out" -name '*0000-cover-letter.patch')
python3 "$TOP/scripts/cover-letter.py" "$TOP/c-glue/cover-letter.txt" "$cover" "$KCACHE" ||
	die "writing the cover letter failed"
patches=()
for p in "$out"/*.patch; do
	[ "$p" = "$cover" ] || patches+=("$p")
done

# recipients to|cc PATCH...: what get_maintainer.pl, run in the base tree
# with the MAINTAINERS the series ends with, gives for the patches: "to"
# the maintainers and reviewers, "cc" the lists; one address a line.
recipients() {
	local sel=(--m --r --no-l)
	[ "$1" = to ] || sel=(--no-m --no-r --l)
	shift
	(cd "$BASE" && perl scripts/get_maintainer.pl --mpath "$repo/MAINTAINERS" \
		--no-rolestats --no-git --no-git-fallback "${sel[@]}" "$@") ||
		die "scripts/get_maintainer.pl failed in $BASE"
}
# add_header FILE To|Cc ADDRESSES: that header at the end of FILE's mail
# headers, folded the way format-patch folds --to and --cc.
add_header() {
	[ -n "$3" ] || return 0
	{
		sed '/^$/Q' "$1"
		printf '%s\n' "$3" | sed "1s/^/$2: /; 2,\$s/^/    /; \$!s/\$/,/"
		sed -n '/^$/,$p' "$1"
	} >"$1.tmp"
	mv "$1.tmp" "$1"
}
to=
cc=
for p in "${patches[@]}"; do
	t=$(recipients to "$p")
	c=$(recipients cc "$p")
	add_header "$p" To "$t"
	add_header "$p" Cc "$c"
	to+=$t$'\n'
	cc+=$c$'\n'
done
# The cover letter: all of them, each once.
to=$(awk 'NF && !seen[$0]++' <<<"$to")
cc=$(awk 'NF && !seen[$0]++' <<<"$cc")
add_header "$cover" To "$to"
add_header "$cover" Cc "$cc"
log "To ($(wc -l <<<"$to")): $(paste -sd, - <<<"$to" | sed 's/,/, /g')"
log "Cc ($(wc -l <<<"$cc")): $(paste -sd, - <<<"$cc" | sed 's/,/, /g')"

# A KSRC git checkout: its HEAD is the base commit, recorded the way
# `format-patch --base` does (the repository here is not the user's, so
# --base cannot name it), unless the files the series touches differ from
# that commit.
if [ -n "${KSRC:-}" ] && [ "$(git -C "$KSRC" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$KSRC" && pwd -P)" ]; then
	head=$(git -C "$KSRC" rev-parse HEAD)
	mapfile -t files < <(git -C "$repo" ls-tree -r --name-only base)
	if git -C "$KSRC" diff --quiet HEAD -- "${files[@]}"; then
		awk -v b="base-commit: $head" '{ l[NR] = $0 } /^-- $/ { s = NR }
			END { for (i = 1; i <= NR; i++) { if (i == s) print b; print l[i] } }' "$cover" >"$cover.tmp"
		mv "$cover.tmp" "$cover"
	else
		log "warning: $KSRC has uncommitted changes to files the series touches: no base-commit: in the cover letter"
	fi
fi
ls "$out"/*.patch

# git am, onto each tree, one line each: the base (the same tree as the
# series gives), the tree the build uses (the working tree's files) and
# the other kernel trees in the cache (Debian's other versions, ...).
head=$(git -C "$repo" rev-parse HEAD)
failed=()
# describe TREE: which kernel it is.
describe() {
	if [ -n "${KSRC:-}" ] && [ "$1" = "$KSRC" ]; then
		printf 'Linux %s (KSRC=%s)' "$(tree_version "$1")" "$1"
	elif [[ $1 == *-vanilla ]]; then
		printf 'Linux %s (vanilla)' "$(cat "$1/.complete")"
	else
		printf 'Linux %s (Debian %s)' "$(tree_version "$1")" "$(cat "$1/.complete")"
	fi
}
# am DIR [OPTION...]: git am the patches in repository DIR; the patch that
# failed, if any, on stdout.
am() {
	local d=$1
	shift
	if git -C "$d" am -q "$@" "${patches[@]}" >"$d.am.log" 2>&1; then
		return 0
	fi
	sed -n 's/^Patch failed at /patch /p' "$d.am.log" | head -1
	git -C "$d" am --abort 2>/dev/null || true
	return 1
}
# same_as_work DIR: the files the series touches are in DIR as in $WORK;
# else the first that differs on stdout.
same_as_work() {
	local f
	while read -r f; do
		cmp -s "$1/$f" "$WORK/$f" || { printf '%s\n' "$f"; return 1; }
	done <"$WORK/.autokill-files"
}
# result TREE ROLE OK MESSAGE
result() {
	printf 'git am onto %s%s: %s\n' "$(describe "$1")" "${2:+, $2}" "$4"
	[ "$3" = ok ] || failed+=("$(describe "$1")")
}

rm -rf "$amdir"
mkdir -p "$amdir"
[ "$BASE" != "$SRC" ] || [ -z "$VANILLA" ] ||
	printf 'git am onto vanilla Linux %s: not checked (no vanilla tree; above)\n' "$KVER"
role="the base"
[ "$BASE" != "$SRC" ] || role="the base, what the build uses"
git -C "$repo" checkout -q --detach base
if ! why=$(am "$repo"); then
	result "$BASE" "$role" no "FAILED ($why; $repo.am.log)"
elif ! git -C "$repo" diff --quiet "$head" HEAD; then
	result "$BASE" "$role" no "FAILED: a different tree than the series gives"
elif [ "$BASE" = "$SRC" ] && ! why=$(same_as_work "$repo"); then
	result "$BASE" "$role" no "FAILED: $why differs from the working tree $WORK; run 'make apply'"
else
	why=
	[ "$BASE" != "$SRC" ] || why=", the same files as the working tree"
	result "$BASE" "$role" ok "ok (${#patches[@]} patches)$why"
fi
trees=()
[ "$BASE" = "$SRC" ] || trees+=("$SRC")
if [ -z "${KSRC:-}" ]; then
	for t in "$CACHE"/src/linux-*; do
		[ -f "$t/.complete" ] && [ "$t" != "$BASE" ] && [ "$t" != "$SRC" ] && trees+=("$t")
	done
fi
for t in "${trees[@]}"; do
	role=
	[ "$t" != "$SRC" ] || role="what the build uses"
	d=$amdir/$(basename "$t")
	python3 "$TOP/scripts/series.py" base "$t" "$d"
	if ! why=$(am "$d"); then
		# Another version's tree may lack a line of a hunk's context
		# (7.2 has no <linux/serdev.h> next to <linux/sched.h> in
		# bindings_helper.h): say so, and whether the patches apply
		# when one line of context has to match, as `git am -C1` does.
		cp "$d.am.log" "$d.am-strict.log"
		if [ "$t" != "$SRC" ] && am "$d" -C1 >/dev/null; then
			result "$t" "$role" ok "ok with git am -C1 (plain git am: $why; $d.am-strict.log)"
		else
			result "$t" "$role" no "FAILED ($why; $d.am-strict.log)"
		fi
	elif [ "$t" = "$SRC" ] && ! why=$(same_as_work "$d"); then
		result "$t" "$role" no "FAILED: $why differs from the working tree $WORK; run 'make apply'"
	elif [ "$t" = "$SRC" ]; then
		result "$t" "$role" ok "ok, the same files as the working tree"
	else
		result "$t" "$role" ok ok
	fi
done
[ "${#failed[@]}" -eq 0 ] || die "the exported patches do not apply with git am to: ${failed[*]}"

log "checkpatch.pl --strict (in $BASE)"
(cd "$BASE" && perl scripts/checkpatch.pl --strict -q "${patches[@]}") ||
	die "checkpatch.pl found problems (above)"
log "series exported to $out (cover letter: $(basename "$cover"); To:/Cc: set for git send-email); apply with: git am ${patches[*]}"
