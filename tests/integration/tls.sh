#!/usr/bin/env bash
# TLS: with tls_cert and tls_key the server speaks HTTPS only (and sends HSTS); a key file that others can
# read stops it from starting. Usage: tls.sh ESTIVA-SERVER ESTIVA-ADMIN SOURCE-DIR
set -euo pipefail
server=$1 admin=$2 src=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/estiva-tls-XXXXXX")
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[[ -f $dir/server.log ]] && tail -5 "$dir/server.log" >&2
	exit 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" \
	-out "$dir/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
chmod 600 "$dir/key.pem"
cat >"$dir/server.conf" <<CONF
[server]
listen = 127.0.0.1
port = 0
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem
web_root = $dir
[database]
path = $dir/estiva.db
[catalog]
dir = $src/config/centres
categories = $src/config/categories.ini
[passes]
key_dir = $dir/keys
CONF
"$admin" -c "$dir/server.conf" init >/dev/null

"$server" -c "$dir/server.conf" --port-file "$dir/port" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 1 100); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "the server did not start"
port=$(cat "$dir/port")

out=$(curl -s -i --cacert "$dir/cert.pem" "https://127.0.0.1:$port/healthz") || fail "HTTPS request failed"
grep -q '^HTTP/1.1 200' <<<"$out" || fail "HTTPS /healthz: $out"
grep -qi '^Strict-Transport-Security: max-age=' <<<"$out" || fail "no HSTS header"
curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$port/healthz" && fail "plain HTTP answered on the TLS port"
# TLS 1.2 and 1.3 only: an old client is refused (it could do 1.1: SECLEVEL=0)
for v in tls1_2 tls1_3; do
	echo | openssl s_client -connect "127.0.0.1:$port" -"$v" 2>&1 | grep -q "^New, TLSv1\.[23]" ||
		fail "a $v client was not served"
done
old=$(echo | openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' 2>&1 || true)
grep -q "^New, TLSv1\.1" <<<"$old" && fail "TLS 1.1 was accepted"
grep -q "^New, (NONE)" <<<"$old" || fail "TLS 1.1: no refused handshake seen: $old"
# a login cookie is Secure under TLS
cookie=$(curl -s -i --cacert "$dir/cert.pem" -H 'Content-Type: application/json' \
	-d '{"member":"nobody","password":"x"}' "https://127.0.0.1:$port/api/v1/session" | head -1)
grep -q '401' <<<"$cookie" || fail "login over TLS: $cookie"
kill "$pid"
wait "$pid" || fail "the server did not stop cleanly"
pid=

# mode 640 with the service's own group (docs/operations.md: root:estiva 640) is accepted
chmod 640 "$dir/key.pem"
chgrp "$(id -g)" "$dir/key.pem"
"$server" --check-config -c "$dir/server.conf" >/dev/null 2>"$dir/check.log" ||
	fail "a 640 key of the service's own group was refused: $(cat "$dir/check.log")"
"$server" -c "$dir/server.conf" --port-file "$dir/port2" 2>>"$dir/server.log" &
pid=$!
for _ in $(seq 1 100); do [[ -s $dir/port2 ]] && break; sleep 0.1; done
[[ -s $dir/port2 ]] || fail "the server did not start with a 640 key of its own group"
kill "$pid"
wait "$pid" || fail "the server did not stop cleanly"
pid=
# ... but not of another group
other=$(getent group nogroup | cut -d: -f3)
if [[ -n $other && $other != "$(id -g)" ]]; then
	chgrp "$other" "$dir/key.pem"
	if "$server" -c "$dir/server.conf" 2>"$dir/refused.log"; then
		fail "the server started with a key readable by another group"
	fi
	"$server" --check-config -c "$dir/server.conf" >/dev/null 2>&1 &&
		fail "--check-config (the unit's ExecStartPre) passed a key readable by another group"
	grep -q 'readable by others' "$dir/refused.log" || fail "no clear message: $(cat "$dir/refused.log")"
	chgrp "$(id -g)" "$dir/key.pem"
fi
chmod 644 "$dir/key.pem"
if "$server" -c "$dir/server.conf" 2>"$dir/refused.log"; then
	fail "the server started with a key file readable by others"
fi
grep -q 'readable by others' "$dir/refused.log" || fail "no clear message: $(cat "$dir/refused.log")"
echo "tls: 1 passed, 0 failed"
