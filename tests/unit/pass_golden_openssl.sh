#!/usr/bin/env bash
# pass_golden_openssl.sh: checks the golden pass vectors (tests/unit/test_pass.c, docs/pass-format.md)
# with code that is not ours: Base45 is decoded and the fields are read here, in bash, and OpenSSL 3's
# Ed25519 derives the public key from the seed, verifies each signature and signs each message again
# (Ed25519 is deterministic, so its signature must be the very same bytes).
# Exit 77 (ctest: skipped) without openssl 3.
set -euo pipefail

if ! command -v openssl >/dev/null 2>&1; then
	echo "SKIP: openssl not found"
	exit 77
fi
if ! openssl version | grep -q '^OpenSSL [3-9]'; then
	echo "SKIP: needs OpenSSL 3 (pkeyutl -rawin), have: $(openssl version)"
	exit 77
fi

SEED_HEX=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
PK_HEX=79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664

# name | fields (version key_id pass_id booking_id centre guest kind valid_from valid_until flags uid) | text
VECTORS=(
	"G1|1 1 4242 1017 3 1 1 29733960 29743800 0 -|EV1:W50000C42000RM0300W503A0RZM3A0CTR000640PGQ1+H1W6QX16%JF71%NUM\$FL5FK%D+5N6VMJ-9+4LTWVFQJ8+SU8ETFT1KJAHL5UGRR75F4*Q4IWHM6M57I.0H+*G/MM"
	"G2|1 1 4243 1017 3 2 2 29760960 29761560 1 04a22b1ac35d80|EV1:W50000D42000RM0300JB04A0BY34A0Q24%50GQ09K5IVO69GYVLK34HP6J9C-VQ*X6 WSF2PUK32IAY%OM9S+MIIFTZBMJYU387DDB+2PTA32E0S76B A/LB6AV %N-YSTPDCC6\$7BDIBF0"
	"G3|1 1 11259375 0 65535 0 3 29671620 29714100 1 08112233445566778899|EV1:W50 30O1Q000000FGW3002A0SGO3A0C:C-50+01PE4XS8-.C4CHZRJ42T393/A3HGR-:0XC9FIK5Z2DQTG+TALKCQ7KE4KUNV\$7SZ9%OEK5DRN1CV0PY1EW6JB8+OSHBJM%Q0ZMHNQWQB-CBTDF"
)

ALPHABET='0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'

fail() {
	echo "FAIL: $*"
	exit 1
}

# Base45 text -> lower-case hex, from RFC 9285 directly.
b45_to_hex() {
	local s=$1 out='' i j g c v mul pre
	(( ${#s} % 3 != 1 )) || fail "Base45 length ${#s}"
	for ((i = 0; i < ${#s}; i += 3)); do
		g=${s:i:3}
		v=0
		mul=1
		for ((j = 0; j < ${#g}; j++)); do
			c=${g:j:1}
			pre=${ALPHABET%%"$c"*}
			[[ $pre != "$ALPHABET" ]] || fail "'$c' is not Base45"
			v=$((v + ${#pre} * mul))
			mul=$((mul * 45))
		done
		if ((${#g} == 3)); then
			((v <= 65535)) || fail "Base45 group $g"
			out+=$(printf '%04x' "$v")
		else
			((v <= 255)) || fail "Base45 pair $g"
			out+=$(printf '%02x' "$v")
		fi
	done
	printf '%s' "$out"
}

hex_to_file() {
	printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')" >"$2"
}

file_to_hex() {
	od -An -tx1 -v "$1" | tr -d ' \n'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The golden key: PKCS#8 wrapping of the 32-byte seed (RFC 8410), public key from OpenSSL.
hex_to_file "302e020100300506032b657004220420$SEED_HEX" "$tmp/sk.der"
openssl pkey -inform DER -in "$tmp/sk.der" -pubout -outform DER -out "$tmp/pk.der" 2>"$tmp/err" ||
	fail "openssl cannot read the Ed25519 seed: $(cat "$tmp/err")"
got=$(file_to_hex "$tmp/pk.der")
[[ $got == "302a300506032b6570032100$PK_HEX" ]] || fail "public key from the seed: $got"
echo "ok: public key of seed 01..20 is $PK_HEX"

passed=0
for vec in "${VECTORS[@]}"; do
	IFS='|' read -r name fields text <<<"$vec"
	[[ ${text:0:4} == "EV1:" ]] || fail "$name: no EV1: prefix"
	hex=$(b45_to_hex "${text:4}")
	ulen=$((16#${hex:46:2}))
	nbytes=$((${#hex} / 2))
	((nbytes == 24 + ulen + 64)) || fail "$name: $nbytes bytes for uid_len $ulen"
	uid=${hex:48:ulen*2}
	read -r -a f <<<"$fields"
	parsed="$((16#${hex:0:2})) $((16#${hex:2:2})) $((16#${hex:4:8})) $((16#${hex:12:8})) $((16#${hex:20:4})) $((16#${hex:24:2})) $((16#${hex:26:2})) $((16#${hex:28:8})) $((16#${hex:36:8})) $((16#${hex:44:2})) ${uid:--}"
	[[ $parsed == "$fields" ]] || fail "$name: fields '$parsed', expected '$fields'"
	mlen=$((24 + ulen))
	hex_to_file "${hex:0:mlen*2}" "$tmp/msg"
	hex_to_file "${hex:mlen*2}" "$tmp/sig"
	openssl pkeyutl -verify -pubin -inkey "$tmp/pk.der" -keyform DER -rawin -in "$tmp/msg" \
		-sigfile "$tmp/sig" >"$tmp/out" 2>&1 || fail "$name: OpenSSL rejects the signature: $(cat "$tmp/out")"
	openssl pkeyutl -sign -inkey "$tmp/sk.der" -keyform DER -rawin -in "$tmp/msg" \
		-out "$tmp/sig2" 2>"$tmp/err" || fail "$name: openssl sign: $(cat "$tmp/err")"
	cmp -s "$tmp/sig" "$tmp/sig2" || fail "$name: OpenSSL's signature differs from ours"
	echo "ok: $name (${#text} characters, $nbytes bytes, fields ${f[*]})"
	passed=$((passed + 1))
done
echo "$passed passed, 0 failed"
