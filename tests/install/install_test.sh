#!/usr/bin/env bash
# tests/install/install_test.sh BUILD_DIR: the installed system, as an operator gets it.
#
# `cmake --install` into a staging root; the examples copied to etc/estiva as docs/operations.md says, the
# payment section filled in and its secrets file written (mode 0600); then every command the installed
# systemd units run (ExecStartPre=, ExecStart=) is run as written, with only the paths mapped into the
# staging root, the listening port made free and the gateway pointed at estiva-paysim on loopback. Each
# must succeed: a check exits 0, a oneshot exits 0, a daemon stays up (the server answers /healthz) and
# exits 0 on SIGTERM. This is the test that catches "the shipped unit cannot start with payments on".
set -euo pipefail

build=${1:?usage: install_test.sh BUILD_DIR}
build=$(cd "$build" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/estiva-install-XXXXXX")
R=$stage/root
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if ((ok)); then rm -rf "$stage"; else echo "install test: kept $stage" >&2; fi
}
ok=0
trap cleanup EXIT
fail() {
	echo "install test: FAIL: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- install, as docs/operations.md does (prefix /usr) ----
DESTDIR=$R cmake --install "$build" --prefix /usr >"$stage/install.log" 2>&1 || {
	cat "$stage/install.log"
	fail "cmake --install failed"
}
units=$(find "$R/usr/lib/systemd/system" "$R/lib/systemd/system" -maxdepth 1 -name 'estiva-*.service' 2>/dev/null | sort || true)
[[ -n $units ]] || fail "no systemd unit installed"
[[ -x $R/usr/bin/estiva-server && -x $R/usr/bin/estiva-admin ]] || fail "estiva-server or estiva-admin not installed in /usr/bin"

# ---- configure, as docs/operations.md does ----
install -d -m 755 "$R/etc/estiva"
cp -r "$R/usr/share/doc/estiva/examples/." "$R/etc/estiva/"
install -d -m 700 "$R/var/lib/estiva" "$R/var/lib/estiva-gate"
port=$(free_port)
simport=$(free_port)
statusport=$(free_port)
# the documented optional section, filled in: payments on, through the simulator
conf=$R/etc/estiva/estiva-server.conf
grep -q '^; \[payment\]' "$conf" || fail "the example configuration has no [payment] section to fill in"
sed -i -e 's/^; \[payment\]/[payment]/' \
	-e 's|^; gateway_url = .*|gateway_url = http://127.0.0.1:'"$simport"'/fim/est3Dgate|' \
	-e 's|^; api_url = .*|api_url = http://127.0.0.1:'"$simport"'/fim/api|' \
	-e 's|^; public_url = .*|public_url = http://127.0.0.1:'"$port"'|' \
	-e 's|^; credentials = \([^ ]*\).*|credentials = \1|' "$conf"
grep -q '^credentials = /etc/estiva/cmi.ini' "$conf" || fail "could not enable credentials in the example"
(
	umask 077
	printf '[cmi]\nclient_id = 600000001\nstore_key = install-test-key\napi_user = estiva-api\napi_password = install-test-password\n' \
		>"$R/etc/estiva/cmi.ini"
)
# the gate: its token is the secret an enrolment writes (mode 0600)
if [[ -f $R/etc/estiva/estiva-gate.conf ]]; then
	:
elif [[ -f $R/usr/share/doc/estiva/examples/estiva-gate.conf ]]; then
	cp "$R/usr/share/doc/estiva/examples/estiva-gate.conf" "$R/etc/estiva/"
fi
(
	umask 077
	printf 'install-test-gate-token-0123456789abcdef\n' >"$R/var/lib/estiva-gate/token"
)

# Paths into the staging root, in every installed configuration file; the ports made free.
map_paths() {
	sed -e "s|/etc/estiva|$R/etc/estiva|g" -e "s|/var/lib/estiva|$R/var/lib/estiva|g" \
		-e "s|/usr/share/estiva|$R/usr/share/estiva|g" -e "s|/usr/bin/|$R/usr/bin/|g"
}
for f in "$R"/etc/estiva/*.conf; do
	map_paths <"$f" >"$f.new" && mv "$f.new" "$f"
done
sed -i -e "s/^port = 8080/port = $port/" "$conf"
if [[ -f $R/etc/estiva/estiva-gate.conf ]]; then
	sed -i -e "s|^url = https://estiva.example.ma|url = http://127.0.0.1:$port|" -e '/^ca_file = /d' \
		-e "/^\[status\]/,/^\[/ s/^port = .*/port = $statusport/" \
		-e '/^\[reader /,/^$/d' "$R/etc/estiva/estiva-gate.conf"
	printf '\n[reader console]\nqr = stdin\ndirection = both\n' >>"$R/etc/estiva/estiva-gate.conf"
fi
chmod 640 "$R"/etc/estiva/*.conf "$R"/etc/estiva/categories.ini
chmod 600 "$R/etc/estiva/cmi.ini"

# ---- the gateway the configuration names ----
"$R/usr/bin/estiva-paysim" --listen 127.0.0.1 --port "$simport" --credentials "$R/etc/estiva/cmi.ini" \
	--db "$stage/paysim.db" 2>"$stage/paysim.log" &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fs "http://127.0.0.1:$simport/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done

# ---- first setup, as docs/operations.md does ----
"$R/usr/bin/estiva-admin" -c "$conf" init >"$stage/init.log" 2>&1 || {
	cat "$stage/init.log"
	fail "estiva-admin init"
}

# A unit's value of KEY (the last one), and its commands for KEY (ExecStartPre, ExecStart), one per line.
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
unit_commands() { sed -n "s/^$2=//p" "$1"; }
# systemd's prefixes (-, @, +, !, :) are not part of the command
strip_prefix() { sed -E 's/^[-@+!:]+//'; }

run_unit() {
	local unit=$1 name type cmd line status
	name=$(basename "$unit")
	type=$(unit_value "$unit" Type)
	while IFS= read -r line; do
		[[ -n $line ]] || continue
		cmd=$(printf '%s' "$line" | strip_prefix | map_paths)
		echo "install test: $name ExecStartPre: $cmd"
		eval "set -- $cmd"
		status=0
		"$@" >"$stage/$name.pre.log" 2>&1 || status=$?
		[[ $status == 0 ]] || {
			cat "$stage/$name.pre.log"
			fail "$name: ExecStartPre exited $status ($line)"
		}
	done < <(unit_commands "$unit" ExecStartPre)
	line=$(unit_commands "$unit" ExecStart | head -n 1)
	[[ -n $line ]] || fail "$name has no ExecStart"
	cmd=$(printf '%s' "$line" | strip_prefix | map_paths)
	echo "install test: $name ExecStart ($type): $cmd"
	eval "set -- $cmd"
	if [[ $type == oneshot ]]; then
		status=0
		timeout 60 "$@" >"$stage/$name.log" 2>&1 || status=$?
		[[ $status == 0 ]] || {
			cat "$stage/$name.log"
			fail "$name: ExecStart exited $status ($line)"
		}
		return
	fi
	(cd "$R/var/lib/estiva" && exec "$@") </dev/null >"$stage/$name.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	if [[ $name == estiva-server.service ]]; then
		for _ in $(seq 1 100); do
			curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || {
			cat "$stage/$name.log"
			fail "$name: the server does not answer /healthz"
		}
	else
		sleep 2
	fi
	kill -0 "$pid" 2>/dev/null || {
		cat "$stage/$name.log"
		fail "$name: ExecStart did not stay up"
	}
	[[ $name == estiva-server.service ]] && return # stopped last: the others may need it
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[[ $status == 0 ]] || {
		cat "$stage/$name.log"
		fail "$name: exit $status on SIGTERM"
	}
}

server_unit=
for u in $units; do
	if [[ $(basename "$u") == estiva-server.service ]]; then
		server_unit=$u
		run_unit "$u"
		server_pid=${pids[-1]}
	fi
done
[[ -n $server_unit ]] || fail "estiva-server.service is not installed"
for u in $units; do
	[[ $u == "$server_unit" ]] || run_unit "$u"
done
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
[[ $status == 0 ]] || {
	cat "$stage/estiva-server.service.log"
	fail "estiva-server.service: exit $status on SIGTERM"
}
echo "install test: every installed unit's commands ran as written: $(echo $units | xargs -n1 basename | tr '\n' ' ')"
ok=1
