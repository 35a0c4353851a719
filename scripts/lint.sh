#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The linters of make test's style suites, over every script of the
# repository (git ls-files): shellcheck (settings: .shellcheckrc) and ruff
# (settings: ruff.toml).
# Usage: lint.sh shellcheck|ruff
. "$(dirname "$0")/lib.sh"

cd "$TOP"
case "${1:-}" in
shellcheck)
	mapfile -t files < <(git ls-files -- '*.sh' .ci/run)
	echo "shellcheck $(shellcheck --version | awk '/^version:/ { print $2 }'): ${#files[@]} files"
	shellcheck "${files[@]}"
	;;
ruff)
	mapfile -t files < <(git ls-files -- '*.py')
	echo "$(ruff --version): ${#files[@]} files"
	ruff check --no-cache "${files[@]}"
	;;
*) die "usage: lint.sh shellcheck|ruff" ;;
esac
