#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The man pages' checks: autokill-run(1) (userspace/autokill/man/) and
# clone(2) with our patch applied (docs/man-pages/clone.2), each through
# mandoc -Tlint -W warning, groff -ww and man --warnings: not one warning.
# Then: the OPTIONS of autokill-run(1) are the options of its --help (the
# HELP text in src/bin/autokill-run.rs), and the patch in docs/man-pages/
# is the difference between its base and docs/man-pages/clone.2 (it
# applies in reverse; scripts/man-pages.sh --check compares it with the
# base itself).
# Prints one line per check, "ok NAME" or "FAILED NAME: REASON"; exits 1
# if one failed. Needs mandoc, groff-base and man-db (make setup).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$TOP/userspace/autokill/man/autokill-run.1
CLONE=$TOP/docs/man-pages/clone.2
HELP_SRC=$TOP/userspace/autokill/src/bin/autokill-run.rs
PATCH=$TOP/docs/man-pages/0001-clone.2-Document-CLONE_AUTOREAP-CLONE_NNP-CLONE_PIDF.patch
failed=0

# result NAME REASON: "ok NAME" when REASON is empty, else a failure.
result() {
	if [ -z "$2" ]; then
		printf 'ok %s\n' "$1"
	else
		printf 'FAILED %s: %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ' | sed 's/ *$//')"
		failed=1
	fi
}

# lint NAME TOOL CMD...: CMD (which runs TOOL) must exit 0 and print
# nothing.
lint() {
	local name=$1 tool=$2 out rc=0
	shift 2
	if ! command -v "$tool" >/dev/null; then
		result "$name" "$tool is not installed (make setup)"
		return
	fi
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		result "$name" "exit $rc: $out"
	else
		result "$name" "$out"
	fi
}

# man_quiet PAGE: man's formatting of PAGE, with all of groff's warnings;
# the formatted page goes, the warnings stay.
# shellcheck disable=SC2317 # run through lint
man_quiet() {
	MANWIDTH=80 LC_ALL=C.UTF-8 MAN_KEEP_STDERR=1 man --warnings=w -l "$1" >/dev/null
}

for page in "$RUN" "$CLONE"; do
	base=$(basename "$page")
	if [ ! -f "$page" ]; then
		result "exists:$base" "no $page"
		continue
	fi
	lint "mandoc:$base" mandoc mandoc -Tlint -W warning "$page"
	lint "groff:$base" groff groff -ww -z -t -man "$page"
	lint "man:$base" man man_quiet "$page"
done

# The options of autokill-run's --help and of its man page, one a line.
help_options() {
	awk '/^Options:$/ { on = 1; next } on && /^$/ { exit } on' "$HELP_SRC" |
		sed 's/^ *//; s/   .*//' | grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort
}
man_options() {
	awk '/^\.SH / { on = ($2 == "OPTIONS"); next } on && prev == ".TP" { print } { prev = $0 }' "$RUN" |
		sed 's/\\-/-/g' | grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort
}
if [ -f "$HELP_SRC" ] && [ -f "$RUN" ]; then
	h=$(help_options) m=$(man_options)
	if [ -z "$h" ]; then
		result options:autokill-run.1 "no Options: block in $HELP_SRC"
	elif [ "$h" != "$m" ]; then
		result options:autokill-run.1 "--help has [${h//$'\n'/ }], the man page's OPTIONS [${m//$'\n'/ }]"
	else
		result options:autokill-run.1 ""
	fi
fi

# The patch turns its base into docs/man-pages/clone.2 (in the layout of
# man-pages 6.03: man2/clone.2). With the base in the cache (make
# man-pages fetches it), applied to the base it must give that file;
# without, it must at least apply to that file in reverse.
base=$(python3 -B -c 'import os, sys; sys.path.insert(0, sys.argv[1]); import harness as h
print(os.path.join(h.cache(), "man-pages", h.MANPAGES_PACKAGE + "-" + h.MANPAGES_BASE, "clone.2"))' \
	"$TOP/scripts" 2>/dev/null || true)
if [ ! -f "$PATCH" ] || [ ! -f "$CLONE" ]; then
	result patch:clone.2 "no $PATCH or no $CLONE"
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/man2"
	if [ -n "$base" ] && [ -f "$base" ]; then
		cp "$base" "$tmp/man2/clone.2"
		if ! out=$(cd "$tmp" && git apply "$PATCH" 2>&1); then
			result patch:clone.2 "does not apply to $base: $out"
		elif ! cmp -s "$tmp/man2/clone.2" "$CLONE"; then
			result patch:clone.2 "applied to $base it does not give $CLONE (run make man-pages)"
		else
			result patch:clone.2 ""
		fi
	else
		cp "$CLONE" "$tmp/man2/clone.2"
		if out=$(cd "$tmp" && git apply -R --check "$PATCH" 2>&1); then
			printf 'ok patch:clone.2 # applies in reverse; no base in the cache to apply it to (make man-pages)\n'
		else
			result patch:clone.2 "does not apply in reverse to $CLONE: $out"
		fi
	fi
fi

exit "$failed"
