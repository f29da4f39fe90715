#!/bin/sh
# man.sh BUILD_DIR: cmake --install puts every man page in share/man/man5 and man8, and each renders
# without a warning (groff -man -ww -z, man -l). Exit 77 (skip) without groff.
set -u
command -v groff >/dev/null 2>&1 || { echo "groff absent: skipped"; exit 77; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage cmake --install "$1" --prefix /usr >/dev/null || exit 1
fail=0
for page in man8/estiva-server.8 man8/estiva-admin.8 man8/estiva-gate.8 man5/estiva-server.conf.5 \
	man5/estiva-gate.conf.5; do
	f=$stage/usr/share/man/$page
	if [ ! -f "$f" ]; then
		echo "FAIL: $page not installed"
		fail=1
		continue
	fi
	out=$(groff -man -ww -z "$f" 2>&1)
	if command -v man >/dev/null 2>&1; then
		out="$out$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null)"
	fi
	if [ -n "$out" ]; then
		echo "FAIL: $page: $out"
		fail=1
	else
		echo "ok: $page"
	fi
done
exit $fail
