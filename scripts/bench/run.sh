#!/usr/bin/env bash
# DNS load test: SkyDNS against Knot DNS, same names, same run, same core.
#
#   scripts/bench/run.sh [--names 10000|100000|1000000] [--runs 5] [--duration 20]
#                        [--latency-seconds 65] [--hone-one true|false]
#                        [--no-latency] [--startups 3] [--wait-quiet 15] [--nice -10]
#                        [--quick] [--sites]
#
# What it does (docs/benchmarks.md, "DNS server", explains how to read it):
#   1. installs dnsperf and knot with apt-get if missing, builds bin/skydns and
#      the helpers in scripts/bench (into a temp dir);
#   2. starts an etcd (scripts/bench/benchetcd) on CPU 0 and writes N names
#      x 3 A records plus a health status per address (~10% DOWN) with
#      scripts/bench/gendata, which also writes the Knot zone and the queries;
#   3. starts skydns on CPU 1 (GOMAXPROCS=1) and times start -> /readyz 200,
#      reads its RSS (--startups times, median); starts knotd and re-pins all
#      its threads to CPU 1;
#   4. dnsperf on CPU 0, alternately skydns / knot, --runs rounds of
#      --duration seconds: median qps and the ratio skydns/knot;
#   5. latency at 15k qps for --latency-seconds per server: dnsperf (avg,
#      stddev) and scripts/bench/dnsload (p50/p99/p99.9);
#   6. prints a markdown table and writes it to scripts/bench/out/.
#
# --quick = --names 10000 --runs 2 --duration 5 --latency-seconds 10 --wait-quiet 10
# --startups 1.
# --sites: no Knot, no latency; against one skydns (hone-one false unless
# given), rounds alternate "no sites" and "1,000 networks over 10 sites"
# (gendata -sites on|off, the backends spread over the sites), with the
# client 127.0.0.1 in site0 and then in no site: median qps of each and the
# ratios to no sites.
# The machine may be shared: everything started here runs at nice --nice
# (default -10, so that other users' builds take little of the two pinned
# cores; 0 turns it off), and so does this session's scheduler autogroup
# until the script exits; before each measurement it waits up to
# --wait-quiet seconds for other processes to use < 0.15 of a core; and it
# reports, per run, how much CPU others took on each core ("other1/other0").
# Everything binds and queries 127.0.0.1 only; every load is bounded in time;
# every process started here is stopped on exit.
set -euo pipefail

names=100000 runs=5 duration=20 latency=65 hone_one=true do_latency=1 wait_quiet=15 nice=-10 startups=3
q_names="" q_runs="" q_duration="" q_latency="" q_wait="" q_hone="" q_startups=""
sites=0
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
	case "$1" in
	--names) q_names="$2"; shift 2 ;;
	--runs) q_runs="$2"; shift 2 ;;
	--duration) q_duration="$2"; shift 2 ;;
	--latency-seconds) q_latency="$2"; shift 2 ;;
	--hone-one) q_hone="$2"; shift 2 ;;
	--no-latency) do_latency=0; shift ;;
	--wait-quiet) q_wait="$2"; shift 2 ;;
	--nice) nice="$2"; shift 2 ;;
	--startups) q_startups="$2"; shift 2 ;;
	--sites) sites=1; shift ;;
	--quick) names=10000 runs=2 duration=5 latency=10 wait_quiet=10 startups=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done
# Explicit values win over --quick, whatever the order.
names="${q_names:-$names}" runs="${q_runs:-$runs}"
duration="${q_duration:-$duration}" latency="${q_latency:-$latency}" wait_quiet="${q_wait:-$wait_quiet}"
# --sites measures plain A (the Go benchmark's mode, the sample config's
# default) and needs no start-up medians: those are the other mode's.
if ((sites)); then
	hone_one=false startups=1 do_latency=0
fi
hone_one="${q_hone:-$hone_one}" startups="${q_startups:-$startups}"
for v in "$names" "$runs" "$duration" "$latency" "$((wait_quiet + 1))" "$startups"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: not a positive integer: $v" >&2; exit 2; }
done
((names <= 2000000 && runs <= 50 && duration <= 600 && latency <= 600 && startups <= 20)) ||
	{ echo "run.sh: at most 2M names, 50 runs, 600 s per load" >&2; exit 2; }
[[ "$hone_one" == true || "$hone_one" == false ]] || { echo "run.sh: --hone-one true|false" >&2; exit 2; }
[[ "$nice" =~ ^-?[0-9]+$ ]] && ((nice >= -20 && nice <= 19)) || { echo "run.sh: --nice -20..19" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out_dir="$root/scripts/bench/out"
zone=bench.skydns.local.
rate=15000
# Loopback ports: BENCH_SKYDNS_PORT, BENCH_STATS_PORT, BENCH_KNOT_PORT, or
# free ones picked below.
sky_port="${BENCH_SKYDNS_PORT:-}"
stats_port="${BENCH_STATS_PORT:-}"
knot_port="${BENCH_KNOT_PORT:-}"

t_start=$(date +%s)
work="$(mktemp -d /tmp/skydns-bench.XXXXXX)"
pids=()         # long-running: etcd, skydns, knotd
current=""      # the load or data step running now, see fg
autogroup_old="" # the session's scheduler nice before this run

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	[[ -z "$current" ]] || kill_tree "$current"
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		# Bounded wait: then KILL what is still there.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
	[[ -z "$autogroup_old" ]] || echo "$autogroup_old" >/proc/self/autogroup 2>/dev/null || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { kill -0 "$1" 2>/dev/null; }
# kill_tree PID: TERM to PID and all its descendants (by id, children first).
kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null || true
}
# fg CMD...: runs CMD in the background and waits for it. Bash runs a trap
# only between commands, so a TERM must not wait for a 65 s load to end.
fg() {
	local rc=0
	"$@" &
	current=$!
	wait "$current" || rc=$?
	current=""
	return "$rc"
}
# Everything started here runs at this priority, on a pinned CPU (nice and
# taskset exec the command: $! of "${on_cpu1[@]}" cmd & is cmd's pid).
on_cpu0=(nice -n "$nice" taskset -c 0)
on_cpu1=(nice -n "$nice" taskset -c 1)
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_mb() { awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/^VmHWM:/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
# CPU time (utime+stime, all threads) of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)
# Busy ticks of one CPU (user nice system steal) from /proc/stat. Interrupt
# time is left out: loopback packets are delivered in softirqs that our own
# traffic causes and that no process is charged for.
cpu_busy() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $9}' /proc/stat; }
quiet=0.15 # cores others may use for a run to count as undisturbed
# Ticks used by the processes this script started (servers, etcd).
ours_ticks() {
	local t=0 pid
	for pid in "${pids[@]}"; do
		alive "$pid" && t=$((t + $(cpu_ticks "$pid")))
	done
	echo "$t"
}
# Waits (at most --wait-quiet s) until others use < 0.15 core over 1 s.
wait_for_quiet() {
	local waited=0 b0 o0 b1 o1 t0 other
	while :; do
		t0=$(now_ms) b0=$(($(cpu_busy 0) + $(cpu_busy 1))) o0=$(ours_ticks)
		sleep 1
		b1=$(($(cpu_busy 0) + $(cpu_busy 1))) o1=$(ours_ticks)
		other=$(awk -v b=$((b1 - b0 - (o1 - o0))) -v hz="$clk_tck" -v ms=$(($(now_ms) - t0)) \
			'BEGIN {printf "%.2f", b / hz / (ms / 1000)}')
		if awk -v o="$other" -v q="$quiet" 'BEGIN {exit !(o < q)}'; then
			((waited == 0)) || log "  machine quiet after ${waited} s (others: $other cores)"
			return 0
		fi
		waited=$((waited + 1))
		if ((waited >= wait_quiet)); then
			log "  machine still busy after ${waited} s (others: $other cores): measuring anyway, see other1/other0"
			return 0
		fi
		((waited % 30 == 1)) && log "  waiting for the machine to be quiet (others: $other cores)"
	done
}

port_free() {
	! ss -Hlnu "sport = :$1" | grep -q . && ! ss -Hlnt "sport = :$1" | grep -q .
}

# --- 1. tools ---------------------------------------------------------------
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
((sites)) || command -v knotd >/dev/null || need+=(knot)
command -v ss >/dev/null || need+=(iproute2)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
(($(nproc) >= 2)) || die "needs 2 CPUs (server on CPU 1, load on CPU 0), have $(nproc)"
# With autogroup scheduling (Linux default) nice only ranks processes within
# one session; between sessions it takes the session's autogroup nice.
# Raise both for the run, restore the session's on exit.
if ((nice != 0)) && [[ -w /proc/self/autogroup ]]; then
	old=$(awk '{print $NF}' /proc/self/autogroup)
	if echo "$nice" >/proc/self/autogroup 2>/dev/null; then
		autogroup_old="$old"
		log "scheduler: this session's autogroup at nice $nice for the run (was $old); processes at nice $nice"
	fi
fi
pick_port() { # a port free on TCP and UDP, not among the arguments
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		[[ " $* " == *" $p "* ]] && continue
		port_free "$p" && { echo "$p"; return 0; }
	done
	die "no free port found"
}
[[ -n "$sky_port" ]] || sky_port=$(pick_port)
[[ -n "$stats_port" ]] || stats_port=$(pick_port "$sky_port")
[[ -n "$knot_port" ]] || knot_port=$(pick_port "$sky_port" "$stats_port")
for p in "$sky_port" "$stats_port" "$knot_port"; do
	port_free "$p" || die "port $p is in use (set BENCH_SKYDNS_PORT / BENCH_STATS_PORT / BENCH_KNOT_PORT)"
done
log "ports on 127.0.0.1: skydns DNS $sky_port, skydns HTTP $stats_port, knot DNS $knot_port"

log "building bin/skydns and the bench helpers"
make -C "$root" --no-print-directory bin/skydns >/dev/null
mkdir -p "$work/bin"
(cd "$root" && go build -o "$work/bin/" ./scripts/bench/gendata ./scripts/bench/benchetcd ./scripts/bench/dnsload)
bin="$work/bin"

# --- 2. etcd and data -------------------------------------------------------
log "starting etcd (CPU 0)"
"${on_cpu0[@]}" "$bin/benchetcd" -dir "$work/etcd" -endpoint-file "$work/etcd.url" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
pids+=("$etcd_pid")
for _ in $(seq 600); do [[ -s "$work/etcd.url" ]] && break; alive "$etcd_pid" || break; sleep 0.1; done
[[ -s "$work/etcd.url" ]] || { cat "$work/etcd.log" >&2; die "etcd did not start"; }
etcd_url="$(cat "$work/etcd.url")"

log "generating $names names x 3 A records into $etcd_url (gendata on CPU 1)"
t0=$(now_ms)
spread=()
((sites)) && spread=(-spread)
fg "${on_cpu1[@]}" "$bin/gendata" -etcd "$etcd_url" -names "$names" -zone "$zone" -out "$work/data" "${spread[@]}" >&2
gen_s=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN {printf "%.1f", ms/1000}')
queries="$work/data/queries.txt"
zonefile="$work/data/${zone}zone"
etcd_db_mb=$(du -sm "$work/etcd" | cut -f1)

# --- 3. servers -------------------------------------------------------------
# start_skydns: starts skydns, waits for /readyz 200, and appends "ms
# rss_mb peak_mb skydns_cpu_s etcd_cpu_s other1 other0" to startup.txt.
start_skydns() {
	local t0 e0 a0 z0 ms e1 c1 rss hwm c e o1 o0
	wait_for_quiet
	t0=$(now_ms) e0=$(cpu_ticks "$etcd_pid") a0=$(cpu_busy 1) z0=$(cpu_busy 0)
	"${on_cpu1[@]}" env GOMAXPROCS=1 "$root/bin/skydns" -config-file "$root/conf/skydns.conf" \
		-set "Dns.dns-addr=127.0.0.1:$sky_port" \
		-set "Stats.statsServer=127.0.0.1:$stats_port" \
		-set "Etcd.etcd-servers=$etcd_url" \
		-set "Dns.dns-domains=$zone" \
		-set "Dns.allow-recursion=" \
		-set "Fun.hone-one=$hone_one" \
		-set "Log.log-level=warn" >>"$work/skydns.log" 2>&1 &
	sky_pid=$!
	pids+=("$sky_pid")
	# Polled every 5 ms from CPU 0, so that polling takes nothing from the load.
	fg "${on_cpu0[@]}" "$bin/dnsload" -readyz "http://127.0.0.1:$stats_port/readyz" -pid "$sky_pid" -wait 300s ||
		{ cat "$work/skydns.log" >&2; die "skydns not ready"; }
	ms=$(($(now_ms) - t0))
	c1=$(cpu_ticks "$sky_pid") e1=$(cpu_ticks "$etcd_pid")
	awk -v ms="$ms" -v rss="$(rss_mb "$sky_pid")" -v hwm="$(hwm_mb "$sky_pid")" -v c="$c1" -v e=$((e1 - e0)) \
		-v b1=$(($(cpu_busy 1) - a0)) -v b0=$(($(cpu_busy 0) - z0)) -v hz="$clk_tck" 'BEGIN {
			s = ms / 1000; o1 = (b1 - c) / hz / s; o0 = (b0 - e) / hz / s
			printf "%d %d %d %.2f %.2f %.2f %.2f\n", ms, rss, hwm, c / hz, e / hz, o1 < 0 ? 0 : o1, o0 < 0 ? 0 : o0
		}' >>"$work/startup.txt"
	read -r ms rss hwm c e o1 o0 < <(tail -1 "$work/startup.txt")
	log "skydns ready in ${ms} ms, RSS ${rss} MB (peak ${hwm} MB); CPU s: skydns $c, etcd $e; others on CPU1 $o1 on CPU0 $o0"
}
stop_skydns() {
	local p
	kill -TERM "$sky_pid" 2>/dev/null || true
	for _ in $(seq 100); do alive "$sky_pid" || break; sleep 0.1; done
	kill -KILL "$sky_pid" 2>/dev/null || true
	wait "$sky_pid" 2>/dev/null || true
	local keep=()
	for p in "${pids[@]}"; do [[ "$p" == "$sky_pid" ]] || keep+=("$p"); done
	pids=("${keep[@]}")
}
: >"$work/startup.txt"
for i in $(seq "$startups"); do
	log "starting skydns (CPU 1, GOMAXPROCS=1, hone-one=$hone_one), start-up $i of $startups"
	start_skydns
	((i == startups)) || stop_skydns
done
sky_ready_ms=$(awk '{print $1}' "$work/startup.txt" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
sky_rss_ready=$(awk '{print $2}' "$work/startup.txt" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
sky_hwm_ready=$(awk '{print $3}' "$work/startup.txt" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
"$bin/dnsload" -server "127.0.0.1:$sky_port" -probe "n0.$zone" -wait 30s >&2

# --sites measures skydns against itself: no Knot.
if ((sites == 0)); then
	log "starting knotd (zone of $names names)"
	mkdir -p "$work/knot/db"
	cp "$zonefile" "$work/knot/"
	cat >"$work/knot/knot.conf" <<EOF
server:
    rundir: "$work/knot"
    listen: 127.0.0.1@$knot_port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$work/knot/db"
template:
  - id: default
    storage: "$work/knot"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: $zone
    file: "${zone}zone"
EOF
	t0=$(now_ms)
	"${on_cpu1[@]}" knotd -c "$work/knot/knot.conf" >"$work/knot.log" 2>&1 &
	knot_pid=$!
	pids+=("$knot_pid")
	fg "$bin/dnsload" -server "127.0.0.1:$knot_port" -probe "n$((names - 1)).$zone" -wait 120s >&2 ||
		{ cat "$work/knot.log" >&2; die "knotd not serving"; }
	knot_ready_ms=$(($(now_ms) - t0))
	taskset -a -p -c 1 "$knot_pid" >/dev/null
	knot_rss_ready=$(rss_mb "$knot_pid")
	log "knotd serving in ${knot_ready_ms} ms, RSS ${knot_rss_ready} MB; threads pinned: $(taskset -a -p "$knot_pid" | awk '{print $NF}' | sort -u | tr '\n' ' ')"
fi

# --- 4. throughput, A B A B -------------------------------------------------
# timed LOGFILE CMD...: runs CMD on CPU 0 (bounded in time), output to
# LOGFILE, and appends "GEN_CPU user sys real" (seconds) for the generator.
timed() {
	local logf="$1" TIMEFORMAT='GEN_CPU %U %S %R'
	shift
	{ time timeout $((duration > latency ? duration + 60 : latency + 60)) \
		"${on_cpu0[@]}" "$@" >"$logf" 2>&1; } 2>>"$logf"
}
# load_run NAME PORT PID LOGFILE CMD...: one measurement of the server PID
# under the load generator CMD. Writes "server_cpu gen_cpu other1 other0"
# to $work/cpu.txt: cores used by the server, by the generator, and by
# everyone else on CPU 1 (the server's) and CPU 0 (the generator's).
load_run() {
	local name="$1" port="$2" pid="$3" logf="$4" c0 c1 t0 t1 a0 a1 z0 z1
	shift 4
	wait_for_quiet
	alive "$pid" || die "$name died"
	c0=$(cpu_ticks "$pid") a0=$(cpu_busy 1) z0=$(cpu_busy 0)
	t0=$(now_ms)
	fg timed "$logf" "$@" || die "load against $name failed: $(tail -5 "$logf")"
	t1=$(now_ms)
	c1=$(cpu_ticks "$pid") a1=$(cpu_busy 1) z1=$(cpu_busy 0)
	awk -v c=$((c1 - c0)) -v b1=$((a1 - a0)) -v b0=$((z1 - z0)) -v hz="$clk_tck" -v ms=$((t1 - t0)) '
		/^GEN_CPU/ {g = ($2 + $3) * hz; gen = ($2 + $3) / $4}
		END {
			s = ms / 1000
			o1 = (b1 - c) / hz / s; if (o1 < 0) o1 = 0
			o0 = (b0 - g) / hz / s; if (o0 < 0) o0 = 0
			printf "%.2f %.2f %.2f %.2f\n", c / hz / s, gen, o1, o0
		}' "$logf" >"$work/cpu.txt"
}
# dnsperf_run NAME PORT PID LOGFILE [dnsperf args]: writes "qps lost avg_s
# stddev_s server_cpu gen_cpu other1 other0" to $work/last.txt.
dnsperf_run() {
	local name="$1" port="$2" pid="$3" logf="$4"
	shift 4
	load_run "$name" "$port" "$pid" "$logf" dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -c 20 -q 200 "$@"
	awk '
		/Queries per second:/ {qps = $4}
		/Queries lost:/ {lost = $3}
		/Average Latency \(s\):/ {avg = $4}
		/Latency StdDev \(s\):/ {sd = $4}
		END {printf "%s %s %s %s ", qps, lost, avg, sd}' "$logf" >"$work/last.txt"
	cat "$work/cpu.txt" >>"$work/last.txt"
}
# A run was disturbed when, on a core that was saturated, other processes
# took more than $quiet of it (on a core with idle time they only used what
# the server or generator left over).
disturbed() { # server_cpu gen_cpu other1 other0
	awk -v s="$1" -v g="$2" -v o1="$3" -v o0="$4" -v q="$quiet" \
		'BEGIN {exit !((o1 > q && s + o1 > 0.9) || (o0 > q && g + o0 > 0.9))}'
}
disturbed_cpu() { local a b c d; read -r a b c d <"$work/cpu.txt"; disturbed "$a" "$b" "$c" "$d"; }

# --- 4s. --sites: no sites against 1,000 networks over 10 sites -------------
# One skydns, one data set (-spread: a name's 3 addresses far apart, so they
# fall in independent sites). Three set-ups:
#   none:  no site defined;
#   sites: 1,000 networks over 10 sites, dnsperf's 127.0.0.1 in site0: it
#          gets site0's addresses, or a fallback's (smaller answers);
#   away:  the same table but site0 holds 127.128.0.0/24 and up instead of
#          127.0.0.0/24 and up: dnsperf is in no site and gets the answers
#          of "none", so only the cost of sites shows.
# Before each run gendata writes or deletes the sites through etcd and waits
# until skydns answers its probe names as it must (see gendata's sites.go).
# Each run is preceded by one untimed pass over the names (see below).
# Rounds run the set-ups in turn, reversed every other round (A B C C B A),
# so that a drift of the machine falls on all alike. A round that others
# disturbed is repeated, as in the Knot mode.
if ((sites)); then
	sites_log="$work/sites.txt"
	: >"$sites_log"
	set_sites() { # on|off, site0's client
		fg "${on_cpu0[@]}" "$bin/gendata" -etcd "$etcd_url" -names "$names" -zone "$zone" -spread \
			-sites "$1" -dns "127.0.0.1:$sky_port" -client "$2" -wait 60s >>"$sites_log" ||
			die "sites $1 not applied: $(tail -3 "$sites_log")"
		log "  $(tail -1 "$sites_log")"
	}
	results="$work/qps.txt"
	: >"$results"
	log "throughput: $runs rounds x $duration s, dnsperf -c 20 -q 200 on CPU 0, none / sites / away in turn (hone-one=$hone_one)"
	r=0 clean=0
	while ((clean < runs && r < 2 * runs)); do
		r=$((r + 1))
		disturbed=0
		order="none sites away"
		((r % 2)) || order="away sites none"
		for mode in $order; do
			case "$mode" in
			none) set_sites off 127.0.0.1 ;;
			sites) set_sites on 127.0.0.1 ;;
			away) set_sites on 127.128.0.1 ;;
			esac
			# A topology change makes each name place its addresses again on
			# its first query: one untimed pass over the names first, in
			# every set-up alike, so that the runs measure the steady state.
			fg timeout 300 "${on_cpu0[@]}" dnsperf -s 127.0.0.1 -p "$sky_port" -d "$queries" -n 1 -c 20 -q 200 \
				>"$work/warmup-$mode-$r.log" 2>&1 || die "warm-up pass failed: $(tail -3 "$work/warmup-$mode-$r.log")"
			alive "$sky_pid" || die "skydns died"
			dnsperf_run skydns "$sky_port" "$sky_pid" "$work/dnsperf-$mode-$r.log" -l "$duration"
			resp=$(awk '/Average packet size:/ {print $NF}' "$work/dnsperf-$mode-$r.log")
			line="$(cat "$work/last.txt") ${resp:-nan}"
			echo "$r $mode $line" >>"$results"
			read -r qps lost avg sd scpu gcpu o1 o0 rb <<<"$line"
			log "  round $r $mode: $qps qps, lost $lost, avg $avg s, response $rb bytes, CPU: skydns $scpu dnsperf $gcpu others on CPU1 $o1 on CPU0 $o0"
			disturbed "$scpu" "$gcpu" "$o1" "$o0" && disturbed=1
		done
		if ((disturbed)); then
			echo "$r" >>"$work/disturbed.txt"
			((r < 2 * runs)) && log "  round $r disturbed by other processes: one more round"
		else
			clean=$((clean + 1))
		fi
	done
	rounds=$r
	set_sites off 127.0.0.1
	touch "$work/disturbed.txt"
	if ((clean >= 3 || clean == rounds)); then
		awk -v bad="$(tr '\n' ' ' <"$work/disturbed.txt")" 'BEGIN {n = split(bad, b, " "); for (i = 1; i <= n; i++) skip[b[i]] = 1}
			!($1 in skip)' "$results" >"$work/qps-used.txt"
		used="the $clean undisturbed rounds of $rounds"
	else
		cp "$results" "$work/qps-used.txt"
		used="all $rounds rounds, only $clean undisturbed: DISTURBED, see other1/other0"
	fi
	median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit}; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
	col() { awk -v s="$1" -v c="$2" '$2 == s {print $c}' "$work/qps-used.txt"; }
	# ratio MODE: median qps of MODE / of none; rounds MODE: per round;
	# norm MODE: the same per second of skydns CPU.
	ratio() { awk -v a="$(col "$1" 3 | median)" -v b="$(col none 3 | median)" 'BEGIN {printf "%.3f", a / b}'; }
	rounds_of() { awk -v m="$1" '$2 == "none" {n[$1] = $3} $2 == m {s[$1] = $3} END {for (r in s) if (r in n) printf "%.3f\n", s[r] / n[r]}' "$work/qps-used.txt" | sort -g | tr '\n' ' '; }
	norm() { awk -v m="$1" '$2 == m {s += $3; sc += $7} $2 == "none" {k += $3; kc += $7}
		END {if (sc > 0 && kc > 0) printf "%.3f", (s / sc) / (k / kc); else print "n/a"}' "$work/qps-used.txt"; }
	cells() { local m; for m in none sites away; do printf " $2 |" "$(col "$m" "$1" | median)"; done; }
	used_n=$(awk '$2 == "none" {n++} END {print n + 0}' "$work/qps-used.txt")
	genbound=$(awk '$7 < 0.85 && $8 > 0.85 {n++} END {print n + 0}' "$work/qps-used.txt")
	others_max=$(awk '{m1 = $9 > m1 ? $9 : m1; m0 = $10 > m0 ? $10 : m0} END {printf "%.2f / %.2f", m1, m0}' "$work/qps-used.txt")
	sites_line=$(grep '^gendata: sites on.*client 127.0.0.1 in' "$sites_log" | tail -1 | sed 's/^gendata: sites on, served after [0-9]* ms: //')
	applied=$(awk '/^gendata: sites/ {print $6}' "$sites_log" | sort -g | tr '\n' ' ')

	stamp=$(date +%Y%m%d-%H%M%S)
	mkdir -p "$out_dir"
	report="$out_dir/$stamp-$names-sites.md"
	elapsed=$(($(date +%s) - t_start))
	{
		echo "### Sites: $names names x 3 A records, no sites against 1,000 networks over 10 sites, hone-one=$hone_one ($(date -u +'%Y-%m-%d %H:%M UTC'))"
		echo
		echo "$(nproc) vCPU $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r); skydns $("$root/bin/skydns" -version | awk '{print $2}') (binary sha256 $(sha256sum "$root/bin/skydns" | cut -c1-12)), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}'), $(go version | awk '{print $3}')."
		echo "skydns on CPU 1 (GOMAXPROCS=1), dnsperf, gendata and etcd on CPU 0; all at nice $nice${autogroup_old:+ (session autogroup too)}."
		echo "Sites: $sites_line; each site falls back to the next two, min-healthy 1 (default). \"client in no site\": the same backend networks, site0's client /24s moved to 127.128.0.0 and up."
		echo
		echo "| | no sites | sites, client in site0 | sites, client in no site |"
		echo "|---|---:|---:|---:|"
		echo "| qps, median of $used_n x ${duration} s (\`-c 20 -q 200\`) |$(cells 3 %.0f)"
		echo "| **ratio to no sites** (medians) | 1 | **$(ratio sites)** | **$(ratio away)** |"
		echo "| ratio per round | | $(rounds_of sites)| $(rounds_of away)|"
		echo "| skydns CPU during those runs (median, cores) |$(cells 7 %s)"
		echo "| ratio per second of skydns CPU | 1 | $(norm sites) | $(norm away) |"
		echo "| dnsperf CPU (median, cores) |$(cells 8 %s)"
		echo "| response size (bytes, median of the runs' averages) |$(cells 11 %.0f)"
		echo
		echo "Data: gendata -spread wrote $((names * 3)) records + status keys in ${gen_s} s. Sites written or deleted and served (ms, each switch): $applied."
		echo "Medians over $used (disturbed: others took > $quiet of a saturated core); in those runs others took at most $others_max cores of CPU 1 / CPU 0."
		echo "Generator-bound runs (skydns core < 85% busy while dnsperf's core > 85%): $genbound of $((3 * used_n))."
		echo "Whole run: ${elapsed} s."
		echo
		echo "<details><summary>per run: round mode qps lost avg_s stddev_s skydns_cpu dnsperf_cpu other1 other0 (cores) response_bytes</summary>"
		echo
		echo '```'
		cat "$results"
		[[ -s "$work/disturbed.txt" ]] && echo "# disturbed rounds: $(tr '\n' ' ' <"$work/disturbed.txt")"
		echo '```'
		echo "</details>"
	} >"$report"
	mkdir -p "$out_dir/$stamp-$names-sites-logs"
	cp "$work"/*.log "$work"/*.txt "$out_dir/$stamp-$names-sites-logs/" 2>/dev/null || true
	cat "$report"
	log "report: $report (logs in $out_dir/$stamp-$names-sites-logs)"
	exit 0
fi

results="$work/qps.txt"
: >"$results"
# A round is skydns then knot. A round that other processes disturbed (see
# disturbed) is repeated, up to --runs extra rounds in all.
log "throughput: $runs rounds x $duration s, dnsperf -c 20 -q 200 on CPU 0, skydns then knot"
r=0 clean=0
while ((clean < runs && r < 2 * runs)); do
	r=$((r + 1))
	disturbed=0
	for srv in skydns knot; do
		if [[ "$srv" == skydns ]]; then port=$sky_port pid=$sky_pid; else port=$knot_port pid=$knot_pid; fi
		alive "$pid" || die "$srv died"
		dnsperf_run "$srv" "$port" "$pid" "$work/dnsperf-$srv-$r.log" -l "$duration"
		line=$(cat "$work/last.txt")
		echo "$r $srv $line" >>"$results"
		read -r qps lost avg sd scpu gcpu o1 o0 <<<"$line"
		log "  round $r $srv: $qps qps, lost $lost, avg $avg s, CPU: server $scpu dnsperf $gcpu others on CPU1 $o1 on CPU0 $o0"
		disturbed "$scpu" "$gcpu" "$o1" "$o0" && disturbed=1
	done
	if ((disturbed)); then
		echo "$r" >>"$work/disturbed.txt"
		((r < 2 * runs)) && log "  round $r disturbed by other processes: one more round"
	else
		clean=$((clean + 1))
	fi
done
rounds=$r

# --- 5. latency at a fixed rate ---------------------------------------------
lat_perf="$work/latency-dnsperf.txt"
lat_load="$work/latency-dnsload.txt"
: >"$lat_perf"
: >"$lat_load"
# Each measurement is repeated once if other processes disturbed it.
if ((do_latency)); then
	for srv in skydns knot; do
		if [[ "$srv" == skydns ]]; then port=$sky_port pid=$sky_pid; else port=$knot_port pid=$knot_pid; fi
		for try in 1 2; do
			log "latency: dnsperf -Q $rate -l $latency against $srv"
			dnsperf_run "$srv" "$port" "$pid" "$work/latency-dnsperf-$srv.log" -Q "$rate" -l "$latency"
			log "  $(cat "$work/last.txt")"
			disturbed_cpu && ((try == 1)) || break
			log "  disturbed by other processes: once more"
		done
		echo "$srv $(cat "$work/last.txt")" >>"$lat_perf"
		for try in 1 2; do
			log "latency: dnsload -Q $rate -l ${latency}s against $srv"
			load_run "$srv" "$port" "$pid" "$work/latency-dnsload-$srv.log" \
				"$bin/dnsload" -server "127.0.0.1:$port" -d "$queries" -Q "$rate" -l "${latency}s" -c 20
			grep '^dnsload:' "$work/latency-dnsload-$srv.log" >&2
			disturbed_cpu && ((try == 1)) || break
			log "  disturbed by other processes (CPU: $(cat "$work/cpu.txt")): once more"
		done
		read -r scpu gcpu o1 o0 <"$work/cpu.txt"
		echo "$srv $(grep '^RESULT' "$work/latency-dnsload-$srv.log" | cut -d' ' -f2-) server_cpu=$scpu gen_cpu=$gcpu other1=$o1 other0=$o0" >>"$lat_load"
	done
	# The floor: a UDP echo (Go, GOMAXPROCS=1, CPU 1) under the same load.
	echo_port=$(pick_port "$sky_port" "$stats_port" "$knot_port")
	"${on_cpu1[@]}" env GOMAXPROCS=1 "$bin/dnsload" -echo "127.0.0.1:$echo_port" -l "$((latency + 60))s" >"$work/echo.log" 2>&1 &
	echo_pid=$!
	pids+=("$echo_pid")
	for _ in $(seq 100); do port_free "$echo_port" || break; sleep 0.05; done
	for try in 1 2; do
		log "latency floor: dnsload -Q $rate -l ${latency}s against a UDP echo"
		load_run echo "$echo_port" "$echo_pid" "$work/latency-dnsload-echo.log" \
			"$bin/dnsload" -server "127.0.0.1:$echo_port" -d "$queries" -Q "$rate" -l "${latency}s" -c 20
		grep '^dnsload: latency' "$work/latency-dnsload-echo.log" >&2
		disturbed_cpu && ((try == 1)) || break
	done
	read -r scpu gcpu o1 o0 <"$work/cpu.txt"
	echo "echo $(grep '^RESULT' "$work/latency-dnsload-echo.log" | cut -d' ' -f2-) server_cpu=$scpu gen_cpu=$gcpu other1=$o1 other0=$o0" >>"$lat_load"
	kill -TERM "$echo_pid" 2>/dev/null || true
	wait "$echo_pid" 2>/dev/null || true
fi
sky_rss_end=$(rss_mb "$sky_pid") sky_hwm_end=$(hwm_mb "$sky_pid")
knot_rss_end=$(rss_mb "$knot_pid") knot_hwm_end=$(hwm_mb "$knot_pid")

# --- 6. report ---------------------------------------------------------------
# The medians use the undisturbed rounds when there are at least 3 of them
# (or all were), else every round (and the report says so).
touch "$work/disturbed.txt"
if ((clean >= 3 || clean == rounds)); then
	awk -v bad="$(tr '\n' ' ' <"$work/disturbed.txt")" 'BEGIN {n = split(bad, b, " "); for (i = 1; i <= n; i++) skip[b[i]] = 1}
		!($1 in skip)' "$results" >"$work/qps-used.txt"
	used="the $clean undisturbed rounds of $rounds"
else
	cp "$results" "$work/qps-used.txt"
	used="all $rounds rounds, only $clean undisturbed: DISTURBED, see other1/other0"
fi
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit}; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v s="$1" -v c="$2" '$2 == s {print $c}' "$work/qps-used.txt"; }
sky_med=$(col skydns 3 | median)
knot_med=$(col knot 3 | median)
sky_cpu_med=$(col skydns 7 | median)
knot_cpu_med=$(col knot 7 | median)
ratio=$(awk -v a="$sky_med" -v b="$knot_med" 'BEGIN {printf "%.2f", a / b}')
# Per-round ratios (each skydns run with the knot run right after it).
ratios=$(awk '$2 == "skydns" {s[$1] = $3} $2 == "knot" {k[$1] = $3} END {for (r in s) printf "%.2f\n", s[r] / k[r]}' "$work/qps-used.txt" | sort -g | tr '\n' ' ')
# qps per second of server CPU: what the server would do on a whole core.
norm_ratio=$(awk '$2 == "skydns" {s += $3; sc += $7} $2 == "knot" {k += $3; kc += $7}
	END {if (sc > 0 && kc > 0) printf "%.2f", (s / sc) / (k / kc); else print "n/a"}' "$work/qps-used.txt")
# Generator-bound: knot's run left its core partly idle (< 85% busy) while
# dnsperf's core was busy: the load generator, not knot, set the pace.
used_n=$(awk '$2 == "knot" {n++} END {print n + 0}' "$work/qps-used.txt")
genbound=$(awk '$2 == "knot" && $7 < 0.85 && $8 > 0.85 {n++} END {print n + 0}' "$work/qps-used.txt")
sky_bound=$(awk '$2 == "skydns" && $7 < 0.85 && $8 > 0.85 {n++} END {print n + 0}' "$work/qps-used.txt")
others_max=$(awk '{m1 = $9 > m1 ? $9 : m1; m0 = $10 > m0 ? $10 : m0} END {printf "%.2f / %.2f", m1, m0}' "$work/qps-used.txt")

stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$out_dir"
report="$out_dir/$stamp-$names.md"
elapsed=$(($(date +%s) - t_start))
{
	echo "### $names names x 3 A records, hone-one=$hone_one ($(date -u +'%Y-%m-%d %H:%M UTC'))"
	echo
	echo "$(nproc) vCPU $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r); skydns $("$root/bin/skydns" -version | awk '{print $2}') (binary sha256 $(sha256sum "$root/bin/skydns" | cut -c1-12)), $(knotd -V | head -1), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}'), $(go version | awk '{print $3}')."
	echo "Servers on CPU 1 (skydns GOMAXPROCS=1; knotd 1 UDP worker, all threads re-pinned), dnsperf/dnsload and etcd on CPU 0; all at nice $nice${autogroup_old:+ (session autogroup too)}."
	echo
	echo "| | SkyDNS | Knot DNS | SkyDNS / Knot |"
	echo "|---|---:|---:|---:|"
	echo "| qps, median of $used_n x ${duration} s (\`-c 20 -q 200\`) | $(printf '%.0f' "$sky_med") | $(printf '%.0f' "$knot_med") | **$ratio** (rounds: $ratios) |"
	echo "| server CPU during those runs (median, cores) | $sky_cpu_med | $knot_cpu_med | per-CPU-second: $norm_ratio |"
	if ((do_latency)); then
		perfcell() { awk -v s="$1" '$1 == s {printf "%.0f / %.0f, %s lost (others %s/%s)", $4 * 1e6, $5 * 1e6, $3, $8, $9}' "$lat_perf"; }
		getv() { grep "^$1 " "$lat_load" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
		loadcell() { echo "$(getv "$1" p50_us) / $2$(getv "$1" p99_us)$2 / $(getv "$1" p999_us) / $(getv "$1" max_us) (others $(getv "$1" other1)/$(getv "$1" other0))"; }
		echo "| dnsperf at $rate qps, ${latency} s: avg / stddev (µs) | $(perfcell skydns) | $(perfcell knot) | |"
		echo "| dnsload at $rate qps, ${latency} s: p50 / p99 / p99.9 / max (µs) | $(loadcell skydns '**') | $(loadcell knot '') | |"
		echo "| dnsload answers: sent / lost / NOERROR+records | $(getv skydns sent) / $(getv skydns lost) / $(getv skydns noerror) | $(getv knot sent) / $(getv knot lost) / $(getv knot noerror) | |"
		echo "| floor: a UDP echo (Go, GOMAXPROCS=1, CPU 1) under the same dnsload, p50 / p99 / p99.9 / max (µs) | $(loadcell echo '') | | |"
	fi
	echo "| start-up: process start to serving (ms) | $sky_ready_ms (/readyz 200, median of $startups: $(awk '{print $1}' "$work/startup.txt" | tr '\n' ' ')) | $knot_ready_ms (first answer) | |"
	echo "| CPU time to load (s): server / etcd | $(awk '{c[NR] = $4; e[NR] = $5} END {print c[NR] " / " e[NR]}' "$work/startup.txt") (last start-up) | | |"
	echo "| RSS when ready (median of $startups) / after the load / peak (MB) | $sky_rss_ready / $sky_rss_end / $sky_hwm_end | $knot_rss_ready / $knot_rss_end / $knot_hwm_end | |"
	echo
	echo "Data: gendata wrote $((names * 3)) records + status keys in ${gen_s} s; etcd data dir ${etcd_db_mb} MB."
	echo "Medians over $used (disturbed: others took > $quiet of a saturated core); in those runs others took at most $others_max cores of CPU 1 / CPU 0."
	echo "Generator-bound runs (server core < 85% busy while dnsperf's core > 85%): knot $genbound of $used_n, skydns $sky_bound of $used_n."
	echo "Whole run: ${elapsed} s."
	echo
	echo "<details><summary>per run: round server qps lost avg_s stddev_s server_cpu dnsperf_cpu other1 other0 (cores)</summary>"
	echo
	echo '```'
	cat "$results"
	[[ -s "$work/disturbed.txt" ]] && echo "# disturbed rounds: $(tr '\n' ' ' <"$work/disturbed.txt")"
	echo "# skydns start-ups: ms rss_mb peak_mb skydns_cpu_s etcd_cpu_s other1 other0"
	cat "$work/startup.txt"
	[[ -s "$lat_perf" ]] && { echo "# latency, dnsperf -Q $rate:"; cat "$lat_perf"; }
	[[ -s "$lat_load" ]] && { echo "# latency, dnsload -Q $rate:"; cat "$lat_load"; }
	echo '```'
	echo "</details>"
} >"$report"
# Keep the raw logs beside the report.
mkdir -p "$out_dir/$stamp-$names-logs"
cp "$work"/*.log "$work"/*.txt "$work/knot/knot.conf" "$out_dir/$stamp-$names-logs/" 2>/dev/null || true
cat "$report"
log "report: $report (logs in $out_dir/$stamp-$names-logs)"
