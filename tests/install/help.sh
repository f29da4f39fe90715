#!/bin/sh
# help.sh VERSION PROGRAM...: every program answers --help on standard output with exit 0 and nothing on
# standard error, before it reads any configuration (a missing -c FILE must not matter), and --version
# prints "NAME VERSION" with the version of the CMake project.
set -u
version=$1
shift
progs="$*"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
for prog in $progs; do
	name=$(basename "$prog")
	set -- "--help"
	# a program that reads a configuration must not read it first
	"$prog" --help 2>/dev/null | grep -q -- '-c FILE' && set -- "--help" "-c $tmp/missing.conf --help"
	for args in "$@"; do
		# shellcheck disable=SC2086 # args is split on purpose
		"$prog" $args >"$tmp/out" 2>"$tmp/err" </dev/null
		rc=$?
		[ "$rc" -eq 0 ] || bad "$name $args: exit $rc (want 0): $(cat "$tmp/err")"
		grep -q "^usage: $name" "$tmp/out" || bad "$name $args: no 'usage: $name' on standard output"
		[ -s "$tmp/err" ] && bad "$name $args: wrote on standard error: $(cat "$tmp/err")"
	done
	"$prog" --version >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	[ "$rc" -eq 0 ] || bad "$name --version: exit $rc (want 0)"
	[ "$(cat "$tmp/out")" = "$name $version" ] ||
		bad "$name --version printed '$(cat "$tmp/out")', want '$name $version'"
	[ $fail -eq 0 ] && echo "ok: $name --help, --version"
done
exit $fail
