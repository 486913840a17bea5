#!/usr/bin/env bash
# bench/run-api.sh -- IVS control-plane API throughput: openivs vs moto_server
# vs a bare net/http handler (the ceiling), all driven by bench/apiload.
#
# For each target in turn: start it on a free port, wait until it answers,
# then run GetChannel (after preloading channels), ListChannels (first page of
# 100) and CreateChannel, one after the other, each at -c $C for $DUR, then
# stop it. Finally print a markdown table.
#
# Environment knobs (defaults in brackets):
#   C [32]  DUR [15s]  WARMUP [2s]  PRELOAD [10000]  MOTO_PRELOAD [$PRELOAD]
#   TARGETS ["openivs moto bare"]  OPENIVS_QUOTA [20000]
#   QUIET_MAX [180]  before each run, wait up to this many seconds for the
#            machine to be idle (<10% busy over 2s); 0 = do not wait.
#   PIN [0]  1 = pin the load tool to CPU 0 and the target to CPU 1 (taskset).
#            Default: nothing pinned; tool and target share both cores, the
#            same way for all three targets.
#
# Exit status: 0 clean; 1 if any run had request errors (the table says which);
# the script aborts on infrastructure failures (build, start, preload, crash).
set -euo pipefail
cd "$(dirname "$0")/.."

C=${C:-32}
DUR=${DUR:-15s}
WARMUP=${WARMUP:-2s}
PRELOAD=${PRELOAD:-10000}
MOTO_PRELOAD=${MOTO_PRELOAD:-$PRELOAD}
TARGETS=$(echo ${TARGETS:-openivs moto bare})
QUOTA=${OPENIVS_QUOTA:-20000}
PIN=${PIN:-0}
QUIET_MAX=${QUIET_MAX:-180}
BIN=.bin

die() { echo "run-api.sh: FATAL: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

WORK=$(mktemp -d -t openivs-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
NOTES=$WORK/notes.txt
: >"$RESULTS"
: >"$NOTES"
TARGET_PID=""
FAILED=0

stop_target() {
	[[ -n $TARGET_PID ]] || return 0
	if kill -0 "$TARGET_PID" 2>/dev/null; then
		kill "$TARGET_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$TARGET_PID" 2>/dev/null || true
	fi
	wait "$TARGET_PID" 2>/dev/null || true
	TARGET_PID=""
}
cleanup() {
	local rc=$?
	stop_target
	if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "run-api.sh: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

LOAD_CPU=()
TARGET_CPU=()
if [[ $PIN == 1 ]]; then
	command -v taskset >/dev/null || die "PIN=1 needs taskset"
	LOAD_CPU=(taskset -c 0)
	TARGET_CPU=(taskset -c 1)
fi

# --- build -----------------------------------------------------------------
mkdir -p "$BIN"
go build -o "$BIN/apiload" ./bench/apiload || die "building bench/apiload"
go build -o "$BIN/barehandler" ./bench/barehandler || die "building bench/barehandler"
rm -f "$BIN/openivs"
if [[ " $TARGETS " == *" openivs "* ]]; then
	if ! go build -o "$BIN/openivs" ./cmd/openivs 2>"$WORK/openivs-build.log"; then
		echo "!!! openivs SKIPPED: ./cmd/openivs does not build yet:" >&2
		tail -5 "$WORK/openivs-build.log" >&2
		echo "openivs skipped: ./cmd/openivs did not build" >>"$NOTES"
		TARGETS=$(echo ${TARGETS//openivs/})
	fi
fi
MOTO=()
if command -v moto_server >/dev/null; then
	MOTO=(moto_server)
elif python3 -c 'import moto.server' 2>/dev/null; then
	MOTO=(python3 -m moto.server)
elif [[ " $TARGETS " == *" moto "* ]]; then
	echo "!!! moto SKIPPED: moto_server not installed" >&2
	echo "moto skipped: moto_server not installed" >>"$NOTES"
	TARGETS=$(echo ${TARGETS//moto/})
fi

# --- target lifecycle ------------------------------------------------------
# start_target NAME HEALTH_URL_OR_EMPTY CMD... ; sets TARGET_PID
start_target() {
	local name=$1 health=$2
	shift 2
	"${TARGET_CPU[@]}" "$@" >"$WORK/$name.log" 2>&1 &
	TARGET_PID=$!
	for _ in $(seq 300); do
		kill -0 "$TARGET_PID" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited during startup"; }
		local code
		code=$(curl -s -o /dev/null -w '%{http_code}' "$health" || true)
		if [[ $name == moto && $code != 000 ]] || [[ $code == 200 ]]; then return 0; fi
		sleep 0.1
	done
	tail -20 "$WORK/$name.log" >&2
	die "$name not ready after 30s ($health)"
}

# busy_pct: percent of all CPUs busy over the next 2 seconds.
busy_pct() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	sleep 2
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
	echo "$a $b" | awk '{d=$4-$2; print (d > 0 ? int(100*($3-$1)/d) : 0)}'
}

# wait_quiet: other people's builds and tests on a shared machine skew results.
wait_quiet() {
	((QUIET_MAX > 0)) || return 0
	local t0=$SECONDS busy
	while busy=$(busy_pct) && ((busy >= 10)); do
		if ((SECONDS - t0 >= QUIET_MAX)); then
			note "machine still ${busy}% busy after ${QUIET_MAX}s of waiting; running anyway"
			return 0
		fi
	done
	((SECONDS - t0 <= 2)) || note "waited $((SECONDS - t0))s for the machine to go quiet"
}

# run_op TARGET ENDPOINT OP [apiload flags...]
run_op() {
	local target=$1 ep=$2 op=$3
	shift 3
	local log="$WORK/$target-$op.txt" rc=0
	wait_quiet
	note "$target $op (-c $C -d $DUR $*)"
	"${LOAD_CPU[@]}" "$BIN/apiload" -endpoint "$ep" -op "$op" -c "$C" -d "$DUR" -warmup "$WARMUP" \
		-label "$target" -target-pid "$TARGET_PID" -json "$@" >>"$RESULTS" 2>"$log" || rc=$?
	sed 's/^/   /' "$log" >&2
	case $rc in
	0) ;;
	1) FAILED=1 ;;
	*) die "apiload failed against $target ($op), see above" ;;
	esac
	kill -0 "$TARGET_PID" 2>/dev/null || { tail -20 "$WORK/$target.log" >&2; die "$target died during $op"; }
}

run_target() {
	local target=$1 port ep preload=$PRELOAD create_args=(-warmup 0)
	port=$(free_port)
	ep=http://127.0.0.1:$port
	case $target in
	openivs)
		mkdir -p "$WORK/openivs-data"
		echo '{"credentials":[{"accessKeyId":"test","secretAccessKey":"test","accountId":"123456789012"}]}' >"$WORK/creds.json"
		start_target openivs "$ep/healthz" "$BIN/openivs" serve --http-addr "127.0.0.1:$port" \
			--data-dir "$WORK/openivs-data" --auth sigv4 --credentials-file "$WORK/creds.json" --quota-channels "$QUOTA"
		# Stay under the channel quota: preload + measured creates + in-flight overshoot.
		local cap=$((QUOTA - PRELOAD - C))
		((cap > 0)) || die "OPENIVS_QUOTA=$QUOTA leaves no room for CreateChannel after PRELOAD=$PRELOAD"
		create_args+=(-n "$cap")
		echo "openivs CreateChannel capped at $cap requests (quota $QUOTA - $PRELOAD preloaded - $C); if it hit the cap before $DUR the run is shorter (see duration)" >>"$NOTES"
		;;
	moto)
		preload=$MOTO_PRELOAD
		[[ $preload == "$PRELOAD" ]] || echo "moto preloaded with $preload channels, not $PRELOAD" >>"$NOTES"
		echo "moto_server (Werkzeug dev server) answers every request with Connection: close, so each moto request pays a new TCP connection" >>"$NOTES"
		start_target moto "$ep/" "${MOTO[@]}" -H 127.0.0.1 -p "$port"
		;;
	bare)
		start_target bare "$ep/healthz" "$BIN/barehandler" -addr "127.0.0.1:$port"
		;;
	*) die "unknown target $target" ;;
	esac
	run_op "$target" "$ep" GetChannel -preload "$preload"
	run_op "$target" "$ep" ListChannels
	run_op "$target" "$ep" CreateChannel "${create_args[@]}"
	stop_target
}

# --- run -------------------------------------------------------------------
note "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3)"
note "targets: $TARGETS; c=$C, duration=$DUR, warmup=$WARMUP (CreateChannel: no warmup), preload=$PRELOAD, pinned=$PIN"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews results)"
for t in $TARGETS; do run_target "$t"; done
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ----------------------------------------------------------------
python3 - "$RESULTS" "$NOTES" "$DUR" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
notes = [l.strip() for l in open(sys.argv[2]) if l.strip()]
bare = {r["op"]: r["rps"] for r in rows if r["label"] == "bare"}
print()
print("| target | op | channels | req/s | p50 ms | p99 ms | p99.9 ms | ratio to bare | measured s | errors | target CPU µs/req | CPU % target / apiload / other |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
preload, skewed = {}, []
for r in rows:
    if r["preload"]:
        preload[r["label"]] = r["preload"]
    ratio = f'{r["rps"] / bare[r["op"]]:.3f}' if bare.get(r["op"]) else "n/a"
    err = f'**{r["errors"]} ERRORS**' if r["errors"] else "0"
    print(f'| {r["label"]} | {r["op"]} | {preload.get(r["label"], 0)} | {r["rps"]:.0f} | {r["p50_ms"]:.2f} '
          f'| {r["p99_ms"]:.2f} | {r["p999_ms"]:.2f} | {ratio} | {r["duration_s"]:.1f} | {err} '
          f'| {r.get("target_cpu_us_per_req", 0):.0f} | {r.get("target_cpu_pct", 0):.0f} / {r.get("client_cpu_pct", 0):.0f} / {r.get("other_cpu_pct", 0):.0f} |')
    if r.get("other_cpu_pct", 0) > 10:
        skewed.append(f'{r["label"]} {r["op"]}')
print()
for n in notes:
    print("- " + n)
if skewed:
    print("- **WARNING: other processes used >10% of the machine during: " + ", ".join(skewed) + " -- rerun on a quiet machine**")
print("- target CPU µs/req = CPU time the target process used in the window / requests; the least contention-sensitive column.")
print("- CPU % = share of all CPUs during the measurement window (100 = every core busy); other = processes that are neither target nor apiload.")
print("- channels = channels preloaded before GetChannel; ListChannels reads the first page of 100; CreateChannel adds to them.")
EOF
if [[ $FAILED == 1 ]]; then
	echo >&2
	echo "!!!!! SOME RUNS HAD REQUEST ERRORS -- see the errors column and the reports above !!!!!" >&2
	exit 1
fi
