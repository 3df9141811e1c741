#!/bin/bash
# Runs the same liaison-bench scenarios against Liaison, Prosody and
# ejabberd in one run, plus the bench-relay ceiling, prints one table and
# writes it to bench/results/<date>.md.  Each server runs from a temporary
# folder on its own loopback ports (never as a system service) and is
# stopped by its pid at the end.  Every load is bounded and goes to 127.0.0.x.
#
#   bench/compare.sh            default run, at most ~15 minutes
#   bench/compare.sh --quick    at most ~2 minutes
#   bench/compare.sh --smoke    a few seconds: start, connect, exchange, exit
#   options: --servers liaison,liaison-labelled,prosody,ejabberd,relay  --build DIR  --no-install
#            --keep (keep the temp folder)  --label-file F
#            --scenarios LIST (register is added for the peers)
#            --bench-build DIR (where liaison-bench and bench-relay are)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
mode=default
servers="liaison,liaison-labelled,prosody,ejabberd,relay"
build="${LIAISON_BUILD:-}"
install=1
keep=0
label_file=""
only_scen=""
bench_build=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) mode=quick ;;
	--smoke) mode=smoke; install=0 ;;
	--servers) servers="$2"; shift ;;
	--build) build="$2"; shift ;;
	--bench-build) bench_build="$2"; shift ;;
	--no-install) install=0 ;;
	--keep) keep=1 ;;
	--scenarios) only_scen="$2"; shift ;;
	--label-file) label_file="$2"; shift ;;
	-h|--help) sed -n "2,15p" "$0"; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

case $mode in
smoke)	dur=1; drain=2; users=4; pairs=2; sessions=4; rate=200; fan_users=2
	fan_rate=10; conc=4; scen="register,throughput,latency" ;;
quick)	dur=2; drain=2; users=150; pairs=25; sessions=150; rate=1000
	fan_users=42; fan_rate=50; conc=32
	scen="register,idle,login,throughput,latency,fanout,labelled" ;;
*)	dur=20; drain=5; users=2000; pairs=50; sessions=2000; rate=2000
	fan_users=84; fan_rate=100; conc=64
	scen="register,idle,login,throughput,latency,fanout,labelled" ;;
esac
[ -n "$only_scen" ] && scen="register,$only_scen"
domain=localhost
password=benchpass

# The bench and the relay: from the given build folder, else build/, else
# our own build-bench/ (built when missing).
find_build() {
	for d in "$bench_build" "$build" "$top/build" "$top/build-bench"; do
		[ -n "$d" ] && [ -x "$d/liaison-bench" ] && [ -x "$d/bench-relay" ] &&
		    { echo "$d"; return 0; }
	done
	return 1
}
bdir=$(find_build) || {
	echo "compare.sh: building liaison-bench in build-bench/" >&2
	(cd "$top" && { [ -d build-bench ] || meson setup build-bench >/dev/null; } &&
	    ninja -C build-bench liaison-bench bench-relay >/dev/null) || exit 2
	bdir="$top/build-bench"
}
lbuild="${build:-$top/build}"
BENCH="$bdir/liaison-bench"
RELAY="$bdir/bench-relay"

epmd_before=$(pgrep -x epmd)
tmp=$(mktemp -d /tmp/liaison-bench.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	# epmd, when ejabberd's start launched it (by its pid, not by name).
	local e
	e=$(pgrep -x epmd)
	[ -z "$epmd_before" ] && [ -n "$e" ] && [ -d "$tmp/ejabberd" ] && kill $e 2>/dev/null
	[ "$keep" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Port: the first free one from $1 up (bounded).
free_port() {
	local p=$1 i
	for i in $(seq 0 50); do
		if ! ss -ltnH "sport = :$((p + i))" 2>/dev/null | grep -q .; then
			echo $((p + i)); return 0
		fi
	done
	return 1
}
wait_port() {	# port, seconds
	local i
	for i in $(seq 1 $(($2 * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

mkcert() {	# dir
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
	    -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
	cat "$1/cert.pem" "$1/key.pem" > "$1/both.pem"
}

# Installs what is missing, with no service started (policy-rc.d 101).
ensure_pkg() {	# package command
	command -v "$2" >/dev/null 2>&1 && return 0
	[ "$install" = 1 ] || return 1
	echo "compare.sh: installing $1 from Debian (no service start)" >&2
	local had=0
	[ -e /usr/sbin/policy-rc.d ] && had=1
	if [ $had = 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$1" >"$tmp/apt-$1.log" 2>&1
	local rc=$?
	[ $had = 0 ] && rm -f /usr/sbin/policy-rc.d
	if command -v systemctl >/dev/null 2>&1; then
		systemctl stop "$1" >/dev/null 2>&1; systemctl disable "$1" >/dev/null 2>&1
	fi
	return $rc
}

start_prosody() {	# port -> sets spid
	ensure_pkg prosody prosody || return 1
	local d="$tmp/prosody"
	mkdir -p "$d/data" && mkcert "$d"
	cat > "$d/prosody.cfg.lua" <<EOF
-- liaison-bench: a throwaway Prosody on loopback.
run_as_root = true
daemonize = false
pidfile = "$d/prosody.pid"
data_path = "$d/data"
plugin_paths = {}
log = { error = "$d/error.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $1 }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = "$d/admin.sock"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "register" }
modules_disabled = { "s2s"; "posix"; "offline"; "carbons" }
allow_registration = true
min_seconds_between_registrations = 0
registration_throttle_max = 1000000
registration_whitelist = { "127.0.0.1"; "127.0.0.2"; "127.0.0.3"; "127.0.0.4"; "127.0.0.5"; "127.0.0.6"; "127.0.0.7"; "127.0.0.8" }
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
c2s_stanza_size_limit = 262144
limits = { }
ssl = { certificate = "$d/cert.pem"; key = "$d/key.pem"; }
VirtualHost "$domain"
    ssl = { certificate = "$d/cert.pem"; key = "$d/key.pem"; }
EOF
	prosody -F --config "$d/prosody.cfg.lua" >"$d/stdout.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	wait_port "$1" 20
}

start_ejabberd() {	# port -> sets spid
	ensure_pkg ejabberd ejabberdctl || return 1
	local d="$tmp/ejabberd" node="bench$$@localhost"
	mkdir -p "$d/spool" "$d/logs" && mkcert "$d"
	# Our own ejabberdctl.cfg: Debian's points at /etc/ejabberd/ejabberd.yml.
	mkdir -p "$d/modules.d"
	cat > "$d/ejabberdctl.cfg" <<EOF
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$d/ejabberd.pid
EJABBERD_CONFIG_PATH=$d/ejabberd.yml
CONTRIB_MODULES_CONF_DIR=$d/modules.d
ERL_MAX_PORTS=65536
ERL_PROCESSES=500000
EOF
	[ -f /etc/ejabberd/inetrc ] && cp /etc/ejabberd/inetrc "$d/"
	cat > "$d/ejabberd.yml" <<EOF
# liaison-bench: a throwaway ejabberd on loopback.
hosts: ["$domain"]
loglevel: warning
certfiles: ["$d/both.pem"]
listen:
  - port: $1
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    max_stanza_size: 262144
    shaper: none
    access: c2s
acl:
  loopback:
    ip: ["127.0.0.0/8"]
access_rules:
  c2s:
    allow: all
  register:
    allow: all
registration_timeout: infinity
auth_method: internal
auth_password_format: scram
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_register:
    access: register
    ip_access: all
EOF
	chown -R ejabberd: "$d" 2>/dev/null
	ejctl() { ejabberdctl --config-dir "$d" --config "$d/ejabberd.yml" \
	    --spool "$d/spool" --logs "$d/logs" --node "$node" "$@"; }
	ejctl foreground >"$d/stdout.log" 2>&1 &
	pids+=("$!")
	local ok=0
	wait_port "$1" 60 || ok=1
	# The VM itself, by its unique node name, stopped at the end even when
	# ejabberd failed to start inside it.
	spid=$(pgrep -f "beam.smp.*$node" | head -1)
	[ -n "$spid" ] && pids+=("$spid")
	return $ok
}

start_liaison() {	# port [labels] -> sets spid
	[ -x "$lbuild/liaisond" ] || return 1
	local d="$tmp/liaison${2:-}" spif=()
	# Labelled runs load the demo policy; with a policy loaded, unlabelled
	# messages are refused, so the unlabelled figures come from a run
	# without one (the server's fast path, as deployed without labels).
	[ -n "${2:-}" ] && spif=(--spif "$top/policies/demo-nato.xml")
	# The generator opens thousands of connections from 8 loopback
	# addresses: lift the per-address connection rate limit (a flood
	# defence, 50/s with a burst of 200 by default), as for any load
	# test, or the login storm measures the limiter.
	printf 'connection_rate = 1000000;\nconnection_burst = 1000000;\n' \
	    >"$tmp/liaison-bench.conf"
	"$lbuild/liaisond" -c "$tmp/liaison-bench.conf" --data "$d" \
	    --domain "$domain" --listen "127.0.0.1:$1" \
	    --listen-tls "127.0.0.1:$(($1 + 1))" "${spif[@]}" \
	    >"$tmp/liaison.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	wait_port "$1" 20 || return 1
	# Accounts through the admin tool, against the store directly.
	local i
	for i in $(seq 0 $((users - 1))); do
		"$lbuild/liaisonctl" --data "$d" user add "bench$i@$domain" "$password" \
		    >>"$tmp/liaisonctl.log" 2>&1 || return 1
	done
	for i in $(seq 0 $((fan_users - 1))); do
		"$lbuild/liaisonctl" --data "$d" user add "fan$i@$domain" "$password" \
		    >>"$tmp/liaisonctl.log" 2>&1 || return 1
	done
	# Clearances for the message pairs, when labelled messages run.
	if [ ${#spif[@]} -gt 0 ]; then
		for i in $(seq 0 $((2 * pairs - 1))); do
			"$lbuild/liaisonctl" --data "$d" clearance set "bench$i@$domain" \
			    "$top/bench/labels/clearance-natosecret.xml" \
			    >>"$tmp/liaisonctl.log" 2>&1 || { label_file=""; break; }
		done
	fi
}

common=(--domain "$domain" --password "$password" --users "$users"
	--pairs "$pairs" --sessions "$sessions" --rate "$rate"
	--fan-users "$fan_users" --fan-rate "$fan_rate" --duration "$dur"
	--drain "$drain" --concurrency "$conc" --quiet)

out="$tmp/results.txt"
: > "$out"
status=0
echo "liaison-bench compare ($mode): $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
IFS=, read -r -a list <<< "$servers"
for s in "${list[@]}"; do
	port=$(free_port $((20000 + RANDOM % 20000))) || { echo "no free port" >&2; exit 2; }
	spid=""
	sc="$scen"
	extra=()
	case $s in
	relay)
		"$RELAY" --listen "127.0.0.1:$port" >"$tmp/relay.log" 2>&1 &
		pids+=("$!")
		wait_port "$port" 5 || { echo "RESULT scenario=all server=relay status=missing" >> "$out"; continue; }
		extra=(--relay "127.0.0.1:$port")
		sc="throughput,latency" ;;
	prosody) start_prosody "$port" ;;
	ejabberd) start_ejabberd "$port" ;;
	liaison)
		sc="${scen/register,/}"
		sc="${sc/,labelled/}"
		start_liaison "$port" ;;
	liaison-labelled)
		[ -z "$label_file" ] &&
		    label_file="$top/bench/labels/securitylabel-nato-restricted.xml"
		extra=(--label-file "$label_file")
		sc="labelled"
		[ -f "$top/policies/demo-nato.xml" ] && start_liaison "$port" -labelled ;;
	*) echo "compare.sh: unknown server $s" >&2; continue ;;
	esac
	rc=$?
	if [ "$s" != relay ] && [ $rc -ne 0 ]; then
		why="missing"
		[ "${s#liaison}" != "$s" ] && [ -x "$lbuild/liaisond" ] && why="failed_to_start"
		[ "$s" = liaison-labelled ] && { echo "== $s: $why"; continue; }
		echo "== $s: $why (not measured)"
		echo "RESULT scenario=all server=$s status=$why" >> "$out"
		continue
	fi
	[ "${s#liaison}" = "$s" ] && sc="${sc/,labelled/}"
	echo "== $s (port $port${spid:+, pid $spid})"
	pidopt=()
	[ -n "$spid" ] && pidopt=(--server-pid "$spid")
	timeout $((dur * 40 + 300)) "$BENCH" --port "$port" --server "${s%-labelled}" \
	    --scenarios "$sc" "${common[@]}" "${pidopt[@]}" "${extra[@]}" \
	    2>"$tmp/$s.err" | tee -a "$out"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "== $s: bench failed"; status=1; }
	# Stop this server before the next one runs: they share the cores.
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 1
done

mkdir -p "$top/bench/results"
res="$top/bench/results/$(date -u +%Y-%m-%d-%H%M)-$mode.md"
[ "$mode" = smoke ] && res="$tmp/smoke.md"
/usr/bin/python3 "$top/bench/report.py" "$out" "$mode" "$rate" "$dur" > "$res" || status=1
echo
cat "$res"
[ "$mode" = smoke ] || echo "written to ${res#$top/}"
if [ "$mode" = smoke ]; then
	/usr/bin/python3 "$top/bench/report.py" --check "$out" || status=1
fi
exit $status
