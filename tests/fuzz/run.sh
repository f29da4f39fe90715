#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS|LONG]: builds the libFuzzer targets with clang in build-fuzz/ (at the top of
# the tree) and runs each one for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/NAME/.
# LONG is the long run: each target for ESTIVA_FUZZ_LONG_SECS seconds (default 3600, one hour each).
# New inputs go to build-fuzz/corpus/NAME/ (the checked-in seeds are never written); a crash leaves its
# input in build-fuzz/ and makes this script fail. Exits 77 (skipped) when clang or libFuzzer is
# missing: on Debian 12 they are the packages clang and libclang-rt-14-dev.
set -euo pipefail

secs=${1:-60}
if [[ $secs == LONG ]]; then
	secs=${ESTIVA_FUZZ_LONG_SECS:-3600}
fi
if [[ ! $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
	echo "usage: tests/fuzz/run.sh [SECONDS|LONG] (LONG: ESTIVA_FUZZ_LONG_SECS each, default 3600)" >&2
	exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build="build-fuzz"
targets=(pass form csv xml conf qrline ndef gateconf event page routes)

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: SKIP: clang not found (Debian: apt-get install clang libclang-rt-14-dev)"
	exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' \
	>"$probe/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" 2>"$probe/err"; then
	echo "fuzz: SKIP: clang cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev):"
	sed 's/^/  /' "$probe/err" | head -5
	exit 77
fi

mkdir -p "$build"
cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER=clang >"$build/build.log" 2>&1 ||
	{ cat "$build/build.log"; exit 1; }
cmake --build "$build" -j2 >>"$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }

rc=0
for name in "${targets[@]}"; do
	work=$build/corpus/$name
	mkdir -p "$work"
	dict=()
	[[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
	echo "fuzz: $name for ${secs}s"
	if ! "$build/fuzz_$name" "${dict[@]}" -max_total_time="$secs" -max_len=1024 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$build/crash-$name-" \
		"$work" "tests/fuzz/corpus/$name" >"$build/fuzz_$name.log" 2>&1; then
		rc=1
		tail -n 60 "$build/fuzz_$name.log"
		echo "fuzz: $name FAILED; input in $build/crash-$name-*; replay: $build/fuzz_$name FILE"
		continue
	fi
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done ' "$build/fuzz_$name.log" |
		sed 's/^/  /'
	echo "fuzz: $name ok (corpus $(find "$work" -type f | wc -l) new inputs in $work)"
done
exit "$rc"
