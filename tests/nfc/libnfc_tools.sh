#!/bin/sh
# libnfc_tools.sh EMULATOR: libnfc-bin's own clients (nfc-list, nfc-mfultralight) against the
# estiva-pn532emu program, driven through its control FIFO. Independent libnfc clients keep the
# emulator honest: it must not drift into something only our nfctag.c accepts.
# Exit 77 (skipped) when libnfc-bin is not installed.
set -u
emu=$1
for tool in nfc-list nfc-mfultralight; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "skipped: $tool not found (Debian package libnfc-bin)"
		exit 77
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/estiva-nfc-XXXXXX") || exit 1
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
failures=0
check() { # check NAME COMMAND...: report, and count failures
	name=$1
	shift
	if "$@"; then
		echo "ok   - $name"
	else
		echo "FAIL - $name"
		failures=$((failures + 1))
	fi
}
# waits up to 5 s for PATTERN in FILE
wait_for() {
	i=0
	while ! grep -q "$1" "$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.05
	done
}

"$emu" --tag ntag215 --uid 04112233445566 --control "$dir/ctl" >"$dir/out" 2>"$dir/err" &
pid=$!
if ! wait_for '^pn532_uart:' "$dir/out"; then
	echo "the emulator did not start:"
	cat "$dir/err"
	exit 1
fi
LIBNFC_DEVICE=$(head -n 1 "$dir/out")
export LIBNFC_DEVICE LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false
echo "# $LIBNFC_DEVICE"

nfc-list -t 1 >"$dir/list" 2>&1
check "nfc-list sees the 7-byte UID" grep -q '04  11  22  33  44  55  66' "$dir/list"

nfc-mfultralight r "$dir/dump.mfd" >"$dir/mfu" 2>&1
check "nfc-mfultralight identifies an NTAG215 (GET_VERSION)" grep -q 'NTAG215' "$dir/mfu"
check "nfc-mfultralight reads all 135 pages" grep -q 'Done, 135 of 135 pages read' "$dir/mfu"
check "the dump is 540 bytes" test "$(wc -c <"$dir/dump.mfd")" -eq 540

echo dump >"$dir/ctl"
check "dump prints the capability container" wait_for 'page   3 (0x03): e1 10 3e 00' "$dir/out"

echo remove >"$dir/ctl"
sleep 0.1
nfc-list -t 1 >"$dir/list" 2>&1
check "no tag after remove" sh -c "! grep -q 'UID' '$dir/list'"
echo present >"$dir/ctl"
sleep 0.1
nfc-list -t 1 >"$dir/list" 2>&1
check "the tag is back after present" grep -q '04  11  22  33  44  55  66' "$dir/list"

echo quit >"$dir/ctl"
wait "$pid"
rc=$?
pid=
check "quit ends the emulator cleanly" test "$rc" -eq 0

echo "$failures failed"
[ "$failures" -eq 0 ]
