#!/usr/bin/env bash
# hash_vectors.sh: the expected ver3 digests of tools/paysim/test_paysim_hash.c, computed outside C.
# Each line below is the exact text that is hashed (values in natural order of their names, escaped,
# joined with '|', then the escaped store key); the test checks both that text and its digest.
# Run it after changing a vector and paste the printed digests into the test's table.
set -euo pipefail
command -v openssl >/dev/null || { echo "hash_vectors.sh: needs openssl (Debian package openssl)" >&2; exit 1; }

vectors=(
	# 1: a request as the server sends it
	'1250.00|Karim El Amrani|https://estiva.example/payments/cmi/callback|600000123|504|karim@example.ma|https://estiva.example/payments/fail|ver3|fr|EST-42-1|https://estiva.example/payments/ok|Zk3q9TQx1LmA7bC0dE5f|https://estiva.example/bookings/42|3D_PAY_HOSTING|PreAuth|TEST-store-key'
	# 2: digit runs: A1 a2 a10 BillToStreet1 BillToStreet12 x09 x9
	'one|two|ten|s1|s12|nine0|nine|k'
	# 3: escapes: a|b, c\d, \|, end\ and the key se|cr\et
	'a\|b|c\\d|\\\||end\\|se\|cr\\et'
	# 4: empty values; Hash and ENCODING left out
	'x||||key'
	# 5: Arabic values, an Arabic name (after every ASCII name), an Arabic key with a |
	'990.51|كريم العمري|حجز مركز الأرز — 3 ليال|ar|سلمى|مفتاح\|1'
	# 6: case folding to UPPER case: ab aZ a[x a_b
	'plain|zed|bracket|under|K'
	# 7: a callback as the gateway sends it
	'1250.00|123456|Karim El Amrani|https://estiva.example/payments/cmi/callback|600000123|504|karim@example.ma||VISA|20250701 10:15:00|https://estiva.example/payments/fail|ver3|518210000001|fr|400000******0010|1|EST-42-1|https://estiva.example/payments/ok|00|Approved|EST-42-1|Q1w2E3r4T5y6U7i8O9p0|3D_PAY_HOSTING|25182ABCDEF1234|PreAuth|TEST-store-key'
	# 8: leading zeros: 6 007 10
	'six|seven|ten|k'
)
for v in "${vectors[@]}"; do
	printf '%s' "$v" | openssl dgst -sha512 -binary | base64 -w0
	echo
done
