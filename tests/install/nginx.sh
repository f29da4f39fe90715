#!/usr/bin/env bash
# The shipped nginx site (config/nginx/estiva.conf) in front of the real server, with only its ports, paths
# and certificate replaced: HTTPS through the proxy works, the server takes the client's address from the
# proxy's X-Forwarded-For (a spoofed one from the client is replaced), so the login slow-down counts the
# real client, and a client that reaches the server directly cannot claim another address. Skipped (77)
# without nginx. Usage: nginx.sh ESTIVA-SERVER ESTIVA-ADMIN SOURCE-DIR
set -euo pipefail
server=$1 admin=$2 src=$3
command -v nginx >/dev/null 2>&1 || { echo "SKIP: nginx not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/estiva-nginx-XXXXXX")
chmod 755 "$dir" # nginx workers (nobody) write its temp folders here
spid= npid=
cleanup() {
	[[ -n $npid ]] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
	[[ -n $spid ]] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[[ -f $dir/server.log ]] && tail -5 "$dir/server.log" >&2
	[[ -f $dir/nginx-error.log ]] && tail -5 "$dir/nginx-error.log" >&2
	exit 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# the server, trusting the proxy's address only
cat >"$dir/server.conf" <<CONF
[server]
listen = 127.0.0.1
port = 0
web_root = $dir
[http]
trusted_proxies = 127.0.0.1
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
spid=$!
for _ in $(seq 1 100); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "the server did not start"
sport=$(cat "$dir/port")

# nginx with the shipped site: its listen, certificate and upstream replaced, nothing else
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/privkey.pem" \
	-out "$dir/fullchain.pem" -days 2 -subj /CN=estiva.example.ma \
	-addext subjectAltName=DNS:estiva.example.ma,IP:127.0.0.2 2>/dev/null
nport=$(free_port)
sed -e "s|listen 443 ssl http2;|listen 127.0.0.2:$nport ssl http2;|" \
	-e "s|/etc/ssl/estiva/|$dir/|g" \
	-e "s|proxy_pass http://127.0.0.1:8080;|proxy_pass http://127.0.0.1:$sport;|" \
	"$src/config/nginx/estiva.conf" >"$dir/site.conf"
grep -q "127.0.0.2:$nport" "$dir/site.conf" && grep -q "127.0.0.1:$sport" "$dir/site.conf" ||
	fail "the shipped site no longer has the lines this test replaces"
cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events {}
http {
    access_log $dir/nginx-access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
}
CONF
nginx -t -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>"$dir/nginx-t.log" || fail "nginx -t: $(cat "$dir/nginx-t.log")"
nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' 2>>"$dir/nginx-error.log" &
npid=$!
url="https://estiva.example.ma:$nport"
via=(--resolve "estiva.example.ma:$nport:127.0.0.2" --cacert "$dir/fullchain.pem" -s)
for _ in $(seq 1 100); do curl "${via[@]}" -o /dev/null "$url/healthz" 2>/dev/null && break; sleep 0.1; done

out=$(curl "${via[@]}" -i "$url/healthz") || fail "HTTPS through nginx failed"
grep -q '^HTTP/2 200' <<<"$out" || fail "/healthz through nginx: $out"
grep -qi '^strict-transport-security:' <<<"$out" || fail "no HSTS through nginx"

login() { # login ACCOUNT ARGS...: the status of a failed login (each account once: 5 per account slow it)
	local account=$1
	shift
	curl "$@" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"member\":\"$account\",\"password\":\"not-the-password\"}"
}
# 20 failures from one client (127.0.0.5) through the proxy, each claiming another address: the server
# counts the client nginx saw, so the 21st is slowed down...
for i in $(seq 1 20); do
	st=$(login "29$((1000 + i))" "${via[@]}" --interface 127.0.0.5 -H "X-Forwarded-For: 10.9.$i.1" \
		"$url/api/v1/session")
	[[ $st == 401 ]] || fail "failed login $i through nginx answered $st"
done
st=$(login 291099 "${via[@]}" --interface 127.0.0.5 -H "X-Forwarded-For: 10.9.99.1" "$url/api/v1/session")
[[ $st == 429 ]] || fail "a spoofed X-Forwarded-For through nginx escaped the slow-down (answered $st)"
grep -q '"POST /api/v1/session HTTP/2.0" 429' "$dir/nginx-access.log" || fail "nginx did not log the 429"
# ... and another client (127.0.0.6) through the same proxy is not: the server tells them apart by the
# proxy's header, not by the proxy's own address
st=$(login 291098 "${via[@]}" --interface 127.0.0.6 "$url/api/v1/session")
[[ $st == 401 ]] || fail "another client behind the proxy was slowed down too (answered $st)"

# a client that reaches the server directly from another address cannot claim to be someone: its own
# address counts (127.0.0.3 is not a trusted proxy), and it has failed nothing yet
st=$(login 291100 -s --interface 127.0.0.3 -H "X-Forwarded-For: 127.0.0.1" "http://127.0.0.1:$sport/api/v1/session")
[[ $st == 401 ]] || fail "a direct client's X-Forwarded-For was believed (answered $st)"

kill "$npid"
wait "$npid" 2>/dev/null || true
npid=
kill "$spid"
wait "$spid" || fail "the server did not stop cleanly"
spid=
echo "nginx: ok"
