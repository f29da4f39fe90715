#!/usr/bin/env bash
# smoke.sh: estiva-paysim end to end, as a merchant would use it. Starts the simulator on an ephemeral
# port and a small merchant callback receiver (python3), posts a form signed here with openssl, pays
# with the approving test card, checks the callback (its HASH recomputed in python), ORDERSTATUS,
# partial and excessive Credit, a decline, the 3-D Secure step, the callback switches (drop, twice,
# delay), retries and giving up, the API switch, SIGTERM, and that state survives a restart.
# Ends with 'paysim smoke: N passed, M failed'. Usage: smoke.sh PATH/TO/estiva-paysim
# ok() always succeeds, so `test && ok ... || bad ...` below is a plain if-then-else.
# shellcheck disable=SC2015
set -uo pipefail

SIM=${1:?usage: smoke.sh PATH/TO/estiva-paysim}
for tool in curl openssl python3; do
	command -v "$tool" >/dev/null || {
		echo "smoke.sh: needs $tool (Debian packages: curl openssl python3)" >&2
		exit 1
	}
done

T=$(mktemp -d)
SIM_PID=
RECV_PID=
cleanup() {
	[[ -n $SIM_PID ]] && kill "$SIM_PID" 2>/dev/null
	[[ -n $RECV_PID ]] && kill "$RECV_PID" 2>/dev/null
	wait 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok() {
	PASSED=$((PASSED + 1))
	echo "ok   $*"
}
bad() {
	FAILED=$((FAILED + 1))
	echo "FAIL $*"
}
# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}
# wait_file PATH: up to 10 s for a file to appear
wait_file() {
	for _ in $(seq 100); do
		[[ -s $1 ]] && return 0
		sleep 0.1
	done
	return 1
}
# eventually DESCRIPTION EXPECTED CMD...: polls CMD's output for up to 10 s
eventually() {
	local what=$1 want=$2 got=
	shift 2
	for _ in $(seq 100); do
		got=$("$@")
		[[ $got == "$want" ]] && break
		sleep 0.1
	done
	check "$what" "$want" "$got"
}
count_cb() { grep -c "oid=$1&" "$T/callbacks.jsonl"; }
xml_get() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" | head -n 1; }

CLIENT_ID=600000123
STORE_KEY='TEST|store\key'
API_USER=estiva-api
API_PASSWORD='api-secret-1'
printf '%s\n' "$STORE_KEY" >"$T/store.key"
printf '%s\n' "$API_PASSWORD" >"$T/api.password"
chmod 600 "$T/store.key" "$T/api.password"

# ---- a store key that others can read is refused ----
cp "$T/store.key" "$T/open.key"
chmod 644 "$T/open.key"
if "$SIM" --client-id "$CLIENT_ID" --store-key-file "$T/open.key" --api-user "$API_USER" \
	--api-password-file "$T/api.password" --check-config >"$T/open.out" 2>&1; then
	bad "a store key file with mode 0644 is refused"
else
	grep -q "chmod 600" "$T/open.out" && ok "a store key file with mode 0644 is refused" ||
		bad "mode 0644 refused without the reason: $(cat "$T/open.out")"
fi

# ---- the merchant's callback receiver ----
cat >"$T/receiver.py" <<'EOF'
import http.server, json, os, sys

port_file, record = sys.argv[1], sys.argv[2]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
        with open(record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "ctype": self.headers.get("Content-Type", ""),
                                "body": body}) + "\n")
        # an order whose oid starts with FAIL gets FAILURE, so the simulator retries and gives up
        out = b"FAILURE" if "&oid=FAIL" in body else b"ACTION=POSTAUTH"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_port))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
EOF
python3 "$T/receiver.py" "$T/recv.port" "$T/callbacks.jsonl" &
RECV_PID=$!
wait_file "$T/recv.port" || { bad "the callback receiver did not start"; exit 1; }
RECV="http://127.0.0.1:$(cat "$T/recv.port")"

# ---- the simulator ----
# start_sim [CREDENTIAL OPTIONS...]: default, the four options with the two secret files
start_sim() {
	local creds=("$@")
	((${#creds[@]})) || creds=(--client-id "$CLIENT_ID" --store-key-file "$T/store.key" --api-user "$API_USER"
		--api-password-file "$T/api.password")
	rm -f "$T/sim.port"
	"$SIM" --listen 127.0.0.1 --port 0 --port-file "$T/sim.port" "${creds[@]}" \
		--db "$T/paysim.db" --callback-retries 2 --callback-backoff-ms 100 --callback-timeout 5 \
		2>>"$T/sim.log" &
	SIM_PID=$!
	wait_file "$T/sim.port" || { bad "estiva-paysim did not start: $(tail -5 "$T/sim.log")"; exit 1; }
	SIMURL="http://127.0.0.1:$(cat "$T/sim.port")"
}
start_sim

# escape a value for the ver3 hash: \ -> \\ then | -> \|
esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/|/\\|/g'; }

# pay_form OID AMOUNT: post a signed form to /fim/est3Dgate; the page goes to $T/page.html
pay_form() {
	local oid=$1 amount=$2 rnd name='كريم | El Amrani' hash plain
	rnd=$(openssl rand -hex 10)
	# The names in PHP natcasesort order, written out here (hash and encoding left out):
	# amount BillToName callbackUrl clientid currency email failUrl hashAlgorithm lang oid okUrl rnd
	# shopurl storetype TranType
	plain="$amount|$(esc "$name")|$RECV/cb|$CLIENT_ID|504|karim@example.ma|$RECV/fail|ver3|fr|$oid|$RECV/ok|$rnd"
	plain+="|$RECV/shop|3D_PAY_HOSTING|PreAuth|$(esc "$STORE_KEY")"
	hash=$(printf '%s' "$plain" | openssl dgst -sha512 -binary | base64 -w0)
	curl -s -o "$T/page.html" -w '%{http_code}' "$SIMURL/fim/est3Dgate" \
		--data-urlencode "clientid=$CLIENT_ID" --data-urlencode "storetype=3D_PAY_HOSTING" \
		--data-urlencode "TranType=PreAuth" --data-urlencode "amount=$amount" --data-urlencode "currency=504" \
		--data-urlencode "oid=$oid" --data-urlencode "okUrl=$RECV/ok" --data-urlencode "failUrl=$RECV/fail" \
		--data-urlencode "shopurl=$RECV/shop" --data-urlencode "callbackUrl=$RECV/cb" \
		--data-urlencode "lang=fr" --data-urlencode "rnd=$rnd" --data-urlencode "hashAlgorithm=ver3" \
		--data-urlencode "encoding=UTF-8" --data-urlencode "email=karim@example.ma" \
		--data-urlencode "BillToName=$name" --data-urlencode "HASH=${HASH_OVERRIDE:-$hash}"
}
token() { grep -o 'name="token" value="[0-9a-f]*"' "$T/page.html" | sed 's/.*value="\(.*\)"/\1/'; }
# card TOKEN PAN: the card form; the page goes to $T/page.html
card() {
	curl -s -o "$T/page.html" -w '%{http_code}' "$SIMURL/fim/pay" --data-urlencode "token=$1" \
		--data-urlencode "pan=$2" --data-urlencode "expiry=12/39" --data-urlencode "cvc=000" \
		--data-urlencode "holder=Karim El Amrani"
}
# api XML: POST a CC5Request, the answer goes to stdout
api() { curl -s -H 'Content-Type: text/xml' --data-binary "$1" "$SIMURL/fim/api"; }
cc5() { # cc5 OID INNER-XML
	api "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CC5Request><Name>$API_USER</Name><Password>$API_PASSWORD</Password><ClientId>$CLIENT_ID</ClientId><OrderId>$1</OrderId>$2</CC5Request>"
}
status_of() { cc5 "$1" '<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>' | xml_get TRANS_STAT; }

# ---- a wrong HASH is refused with the reason ----
code=$(HASH_OVERRIDE=AAAA pay_form SMOKE-BAD 10.00)
check "a wrong HASH is refused (HTTP 400)" 400 "$code"
grep -q "HASH does not match" "$T/page.html" && ok "the error page says why" || bad "the error page says why"

# ---- pay with the approving card ----
OID=SMOKE-$(openssl rand -hex 4)
code=$(pay_form "$OID" 1250.00)
check "the signed form opens the card page" 200 "$code"
TOKEN=$(token)
[[ -n $TOKEN ]] && ok "the card page carries a token" || bad "the card page carries a token"
code=$(card "$TOKEN" 4000000000000010)
check "the card step answers with the return page" 200 "$code"
grep -q "action=\"$RECV/ok\"" "$T/page.html" && ok "the browser goes back to okUrl" || bad "the browser goes back to okUrl"
grep -q 'name="ProcReturnCode" value="00"' "$T/page.html" && ok "the return form carries ProcReturnCode 00" ||
	bad "the return form carries ProcReturnCode 00"
grep -q 'src="/sim/autopost.js"' "$T/page.html" && grep -q '<noscript>' "$T/page.html" &&
	ok "the return page auto-posts, with a noscript button" || bad "the return page auto-posts"
if grep -q 4000000000000010 "$T/paysim.db"* 2>/dev/null; then bad "the card number is not stored"; else
	ok "the card number is not stored"; fi

# ---- the callback ----
wait_file "$T/callbacks.jsonl" || bad "the callback arrived"
cat >"$T/verify.py" <<'EOF'
import base64, hashlib, json, re, sys, urllib.parse

record, key, oid, amount, want_code = sys.argv[1:6]

def natkey(name):
    # PHP strnatcasecmp for names without leading zeros or spaces: digit runs compare as numbers
    # (placed where '0' sorts), other bytes compare upper-cased, as PHP folds case.
    out = []
    for run in re.findall(rb"[0-9]+|[^0-9]", name.encode("utf-8")):
        out.append((0x30, int(run)) if run[:1].isdigit() else (run.upper()[0], 0))
    return out

def esc(v):
    return v.replace("\\", "\\\\").replace("|", "\\|")

calls = [json.loads(line) for line in open(record, encoding="utf-8")]
mine = [c for c in calls if ("oid=" + oid + "&") in c["body"] or c["body"].endswith("oid=" + oid)]
assert mine, "no callback for " + oid
cb = mine[0]
assert cb["path"] == "/cb", cb["path"]
assert cb["ctype"].startswith("application/x-www-form-urlencoded"), cb["ctype"]
fields = urllib.parse.parse_qsl(cb["body"], keep_blank_values=True, strict_parsing=True)
d = dict(fields)
assert len(d) == len(fields), "a field is sent twice"
names = sorted((n for n, _ in fields if n.lower() not in ("hash", "encoding")), key=natkey)
plain = "|".join(esc(d[n]) for n in names) + "|" + esc(key)
want = base64.b64encode(hashlib.sha512(plain.encode("utf-8")).digest()).decode()
assert d.get("HASH") == want, "HASH %s, recomputed %s" % (d.get("HASH"), want)
assert d["ProcReturnCode"] == want_code, d["ProcReturnCode"]
assert d["Response"] == ("Approved" if want_code == "00" else "Declined"), d["Response"]
assert d["oid"] == oid and d["ReturnOid"] == oid
assert d["amount"] == amount and d["currency"] == "504" and d["clientid"] == "600000123"
assert d["BillToName"] == "كريم | El Amrani" and d["encoding"] == "UTF-8"
for name in ("AuthCode", "TransId", "HostRefNum", "ErrMsg", "mdStatus", "MaskedPan", "EXTRA.TRXDATE",
             "EXTRA.CARDBRAND", "rnd"):
    assert name in d, name + " missing"
assert re.fullmatch(r"\d{8} \d\d:\d\d:\d\d", d["EXTRA.TRXDATE"]), d["EXTRA.TRXDATE"]
if want_code == "00":
    assert d["MaskedPan"] == "400000******0010" and d["EXTRA.CARDBRAND"] == "VISA" and d["mdStatus"] == "1"
    assert re.fullmatch(r"\d{6}", d["AuthCode"]), d["AuthCode"]
print("callbacks for this order:", len(mine))
EOF
if out=$(python3 "$T/verify.py" "$T/callbacks.jsonl" "$STORE_KEY" "$OID" 1250.00 00 2>&1); then
	ok "the callback is signed (HASH recomputed in python), ProcReturnCode 00, all fields echoed"
else
	bad "callback check: $out"
fi

# ---- ORDERSTATUS, Credit ----
Q=$(cc5 "$OID" '<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>')
check "ORDERSTATUS: captured after ACTION=POSTAUTH" C "$(xml_get TRANS_STAT <<<"$Q")"
check "ORDERSTATUS: Response" Approved "$(xml_get Response <<<"$Q")"
check "ORDERSTATUS: CAPTURE_AMT" 1250.00 "$(xml_get CAPTURE_AMT <<<"$Q")"
R=$(cc5 "$OID" '<Type>Credit</Type><Total>500.00</Total><Currency>504</Currency>')
check "Credit 500.00 of 1250.00 is approved" Approved "$(xml_get Response <<<"$R")"
check "Credit: ProcReturnCode" 00 "$(xml_get ProcReturnCode <<<"$R")"
R=$(cc5 "$OID" '<Type>Credit</Type><Total>800.00</Total>')
check "Credit 800.00 when 750.00 is left is declined" Declined "$(xml_get Response <<<"$R")"
grep -q "750.00 left" <<<"$(xml_get ErrMsg <<<"$R")" && ok "the decline says what is left" ||
	bad "the decline says what is left: $(xml_get ErrMsg <<<"$R")"
Q=$(cc5 "$OID" '<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>')
check "ORDERSTATUS: TOTAL_REFUNDED" 500.00 "$(xml_get TOTAL_REFUNDED <<<"$Q")"
code=$(pay_form "$OID" 1250.00)
check "a paid oid cannot be paid again" 400 "$code"

# ---- API credentials ----
R=$(api "<CC5Request><Name>$API_USER</Name><Password>wrong</Password><ClientId>$CLIENT_ID</ClientId><OrderId>$OID</OrderId><Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra></CC5Request>")
check "a wrong API password gets Response Error" Error "$(xml_get Response <<<"$R")"

# ---- a decline: 5453... with .51 centimes ----
OID2=SMOKE-$(openssl rand -hex 4)
pay_form "$OID2" 99.51 >/dev/null
card "$(token)" 5453010000066100 >/dev/null
grep -q "action=\"$RECV/fail\"" "$T/page.html" && ok "5453010000066100 with .51 goes to failUrl" ||
	bad "5453010000066100 with .51 goes to failUrl"
grep -q 'name="ProcReturnCode" value="51"' "$T/page.html" && ok "... with ProcReturnCode 51" ||
	bad "... with ProcReturnCode 51"
check "ORDERSTATUS of the declined order" D "$(status_of "$OID2")"

# ---- 3-D Secure ----
OID3=SMOKE-$(openssl rand -hex 4)
pay_form "$OID3" 300.00 >/dev/null
TOKEN=$(token)
card "$TOKEN" 5191630100004896 >/dev/null
grep -q 'action="/fim/3ds"' "$T/page.html" && ok "5191630100004896 asks for the 3-D Secure code" ||
	bad "5191630100004896 asks for the 3-D Secure code"
curl -s -o "$T/page.html" "$SIMURL/fim/3ds" --data-urlencode "token=$TOKEN" --data-urlencode "code=123"
grep -q 'name="mdStatus" value="1"' "$T/page.html" && grep -q "action=\"$RECV/ok\"" "$T/page.html" &&
	ok "code 123 approves with mdStatus 1" || bad "code 123 approves with mdStatus 1"

# ---- a dropped callback leaves the order authorised (for reconciliation) ----
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"callback":"drop"}' "$SIMURL/sim/control"
OID4=SMOKE-$(openssl rand -hex 4)
pay_form "$OID4" 40.00 >/dev/null
card "$(token)" 4000000000000010 >/dev/null
check "with callback=drop the order stays authorised (A)" A "$(status_of "$OID4")"
grep -q "$OID4" "$T/callbacks.jsonl" && bad "with callback=drop nothing is sent" || ok "with callback=drop nothing is sent"
R=$(cc5 "$OID4" '<Type>PostAuth</Type>')
check "PostAuth through the API captures it" Approved "$(xml_get Response <<<"$R")"
curl -s -o /dev/null -d 'callback=normal' "$SIMURL/sim/control"

# ---- a merchant that answers FAILURE: retries with back-off, then gives up ----
OID5=FAIL-$(openssl rand -hex 4)
pay_form "$OID5" 75.00 >/dev/null
card "$(token)" 4000000000000010 >/dev/null
cb_field() { # cb_field OID FIELD: the first callback row's FIELD from /sim/orders
	curl -s "$SIMURL/sim/orders?oid=$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["orders"][0]["callbacks"][0][sys.argv[1]])' "$2"
}
# attempts at 0, +0.1 s and +0.2 s (--callback-retries 2 --callback-backoff-ms 100)
eventually "FAILURE replies: the callback is given up" failed cb_field "$OID5" state
check "... after 1 + 2 retries" 3 "$(cb_field "$OID5" attempts)"
check "... the merchant saw 3 posts" 3 "$(count_cb "$OID5")"
check "... and the order stays authorised (A)" A "$(status_of "$OID5")"

# ---- callback=twice and callback=delay ----
curl -s -o /dev/null -d 'callback=twice' "$SIMURL/sim/control"
OID6=SMOKE-$(openssl rand -hex 4)
pay_form "$OID6" 60.00 >/dev/null
card "$(token)" 4000000000000010 >/dev/null
eventually "callback=twice sends the same callback two times" 2 count_cb "$OID6"
check "... and the order is captured once" C "$(status_of "$OID6")"
curl -s -o /dev/null -d 'callback=delay=1' "$SIMURL/sim/control"
OID7=SMOKE-$(openssl rand -hex 4)
pay_form "$OID7" 61.00 >/dev/null
card "$(token)" 4000000000000010 >/dev/null
grep -q "action=\"$RECV/ok\"" "$T/page.html" && ok "callback=delay: the browser goes back at once" ||
	bad "callback=delay: the browser goes back at once"
check "... before the callback" 0 "$(count_cb "$OID7")"
eventually "... which comes about a second later" 1 count_cb "$OID7"
curl -s -o /dev/null -d 'callback=normal' "$SIMURL/sim/control"

# ---- the API switch ----
curl -s -o /dev/null -d 'api=down' "$SIMURL/sim/control"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary '<CC5Request/>' "$SIMURL/fim/api")
check "api=down answers 503" 503 "$code"
curl -s -o /dev/null -d 'api=up' "$SIMURL/sim/control"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(o["oid"]==sys.argv[1] and o["status"]=="C" for o in d["orders"])' \
	"$OID" < <(curl -s "$SIMURL/sim/orders") && ok "/sim/orders lists the order" || bad "/sim/orders lists the order"

# ---- SIGTERM, and the state survives a restart ----
kill -TERM "$SIM_PID"
wait "$SIM_PID"
check "SIGTERM stops it with exit status 0" 0 "$?"
SIM_PID=
grep -q "stopped" "$T/sim.log" && ok "it logs its stop" || bad "it logs its stop"
grep -q "POST /fim/pay 200" "$T/sim.log" && ok "one log line per request" || bad "one log line per request"
# the second start reads the server's credentials file instead (same [cmi] names as cmi.ini)
printf '[cmi]\nclient_id = %s\nstore_key = %s\napi_user = %s\napi_password = %s\n' "$CLIENT_ID" "$STORE_KEY" \
	"$API_USER" "$API_PASSWORD" >"$T/cmi.ini"
chmod 600 "$T/cmi.ini"
start_sim --credentials "$T/cmi.ini"
check "after a restart (with --credentials) the order is still refunded in part" C "$(status_of "$OID")"
kill -TERM "$SIM_PID"
wait "$SIM_PID"
check "the restarted simulator stops with exit status 0" 0 "$?"
SIM_PID=
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$T/sim.log"; then
	bad "sanitizer reports in the simulator's log:"
	grep -E -A5 "AddressSanitizer|LeakSanitizer|runtime error:" "$T/sim.log" | head -40
else
	ok "no sanitizer report in the simulator's log"
fi

echo
echo "paysim smoke: $PASSED passed, $FAILED failed"
((FAILED == 0))
