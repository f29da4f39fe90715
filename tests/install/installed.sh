#!/bin/bash
# installed.sh BUILD_DIR: the installed system as an operator gets it. `cmake --install` into a staging
# root (DESTDIR, prefix /usr); the shipped examples copied to STAGE/etc/estiva as docs/operations.md says,
# with payments configured and the credentials file present (mode 0600); the first setup
# (estiva-admin init); then every ExecStartPre= and ExecStart= of the installed units is run as written,
# with /usr/bin/estiva-*, /usr/share/estiva, /etc/estiva and /var/lib/estiva* mapped into the staging root
# (in the units and in the configuration files alike). Oneshot services must exit 0; the server must
# start, answer /healthz and exit 0 on SIGTERM. What is changed besides the paths: the listening ports
# (free ones, not 8080/8090, so that the test runs beside others).
set -u
build=$1
stage=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$stage"
}
trap cleanup EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
units=$stage/usr/lib/systemd/system
etc=$stage/etc/estiva
install -d -m 750 "$etc" "$stage/var/lib/estiva" "$stage/var/lib/estiva-gate"
cp -r "$stage/usr/share/doc/estiva/examples/." "$etc/"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
gport=$(free_port)
map() {
	sed -e "s#/usr/bin/estiva-#$stage/usr/bin/estiva-#g" -e "s#/usr/share/estiva#$stage/usr/share/estiva#g" \
	    -e "s#/etc/estiva#$etc#g" -e "s#/var/lib/estiva#$stage/var/lib/estiva#g"
}
# payments on, as payments.md says: the [payment] section uncommented and the credentials file
map <"$etc/estiva-server.conf" | sed -e 's/^; \[payment\]/[payment]/' -e '/^\[payment\]/,$ s/^; //' \
	-e "s/^port = 8080/port = $port/" >"$etc/s.tmp" && mv "$etc/s.tmp" "$etc/estiva-server.conf"
grep -q '^credentials = ' "$etc/estiva-server.conf" || bad "no [payment] credentials in the example"
printf '[cmi]\nclient_id = 600000001\nstore_key = TEST1234\napi_user = estiva\napi_password = secret\n' \
	>"$etc/cmi.ini"
map <"$etc/estiva-gate.conf" | sed -e "s/^port = 8090/port = $gport/" >"$etc/g.tmp" && mv "$etc/g.tmp" "$etc/estiva-gate.conf"
chmod 640 "$etc"/*.conf "$etc"/*.ini
chmod 600 "$etc/cmi.ini" # owner only: the server refuses a credentials file others can read
# first setup (docs/operations.md)
"$stage/usr/bin/estiva-admin" -c "$etc/estiva-server.conf" init >/dev/null || bad "estiva-admin init"

# unit_cmds UNIT KEY: the unit's KEY= lines, specifiers unescaped (%% is %), paths mapped
unit_cmds() { sed -n "s/^$2=//p" "$1" | sed 's/%%/%/g' | map; }
for unit in "$units"/estiva-*.service; do
	name=$(basename "$unit")
	type=$(sed -n 's/^Type=//p' "$unit")
	while IFS= read -r cmd; do
		out=$(bash -c "$cmd" 2>&1) || bad "$name ExecStartPre: $cmd: $out"
	done < <(unit_cmds "$unit" ExecStartPre)
	cmd=$(unit_cmds "$unit" ExecStart)
	if [ "$type" = oneshot ]; then
		out=$(bash -c "$cmd" 2>&1) || bad "$name ExecStart (oneshot): $cmd: $out"
		[ $fail -eq 0 ] && echo "ok: $name"
		continue
	fi
	case $name in
	estiva-server.service) url=http://127.0.0.1:$port/healthz ;;
	*) echo "note: $name ExecStart not run here (needs an enrolled gate); its ExecStartPre was"; continue ;;
	esac
	# Type=notify: a NOTIFY_SOCKET that records what the program says
	sock=$stage/notify.sock
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1]); open(sys.argv[1]+".up","w").close()
while True:
    m=s.recv(4096).decode()
    with open(sys.argv[2],"a") as f: f.write(m+"\n")' "$sock" "$stage/notify.txt" &
	pids+=("$!")
	for _ in $(seq 50); do [ -e "$sock.up" ] && break; sleep 0.1; done
	NOTIFY_SOCKET=$sock bash -c "exec $cmd" 2>"$stage/$name.log" &
	pid=$!
	pids+=("$pid")
	up=0
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && { up=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ $up -eq 1 ] || bad "$name: $url never answered: $(cat "$stage/$name.log")"
	if [ "$type" = notify ]; then
		sleep 0.2
		grep -qx 'READY=1' "$stage/notify.txt" 2>/dev/null || bad "$name: Type=notify but no READY=1"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || bad "$name: exit $rc after SIGTERM: $(tail -3 "$stage/$name.log")"
	[ "$type" = notify ] && ! grep -qx 'STOPPING=1' "$stage/notify.txt" && bad "$name: no STOPPING=1 at SIGTERM"
	[ $fail -eq 0 ] && echo "ok: $name (started, /healthz, stopped on SIGTERM)"
done
exit $fail
