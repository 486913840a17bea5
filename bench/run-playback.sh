#!/usr/bin/env bash
# bench/run-playback.sh -- how fast does openivs deliver playback, against nginx-rtmp, on this machine?
#
# Phase "latency": glass-to-glass latency with real players. For each target in $LAT_TARGETS, start it afresh,
# publish one stream whose frames carry their capture time (ffmpeg: testsrc2 640x360 30 fps, a geq filter drawing
# the wall-clock milliseconds as 40 blocks across the top 32 rows (see stamp_filter), x264 veryfast zerolatency -g 30, AAC), and
# watch it for $LAT_WATCH with each player of $LAT_PLAYERS in headless Chromium (bench/latency: the capture time
# decoded from every presented frame; on openivs also a PutMetadata every second carrying its send time).
#   openivs-ts / openivs-fmp4   a LOW latency channel, container TS / FRAGMENTED_MP4 (LL-HLS)
#   nginx                       nginx-rtmp, hls on, hls_fragment 1s, the HLS directory served by nginx's http
# hls.js runs with lowLatencyMode on every target (it only changes anything where the playlist is LL-HLS).
#
# Phase "fanout": for each N in $NS and each target in $FAN_TARGETS (interleaved; a target's series stops at the
# first N where fewer than $PASS of the (viewer, part) pairs arrive within 1 s), start the target afresh, publish
# the pre-encoded $FLV (720p30, ~3 Mbit/s, 1 s GOP) in a loop with `ffmpeg -re -stream_loop -1 -c copy`, and run
# bench/hlsload with N viewers ($RAMP ramp, $SETTLE settle, $DUR window, 3 s grace).
#   openivs   a LOW latency TS channel; LL-HLS viewers (blocking reload, parts, delta updates)
#   openivs-plain  (not in the default FAN_TARGETS) the same channel watched by plain-HLS viewers, as nginx's are
#   nginx     nginx-rtmp's HLS served by nginx http (worker_processes $NGINX_WORKERS, sendfile on, access_log off);
#             plain-HLS viewers (the playlist every half target duration, whole segments)
#
# Environment knobs (defaults in brackets):
#   PHASES ["latency fanout"]
#   LAT_TARGETS ["openivs-ts openivs-fmp4 nginx"]  LAT_PLAYERS ["hlsjs ivs"]  LAT_WATCH [30s]  LAT_WARMUP [6s]
#   LAT_REPEAT [3]  runs of each (target, player); where a stream is joined in its GOP moves the latency by up to
#                   a second from one run to the next, so the tables give the median of the runs' medians
#   LAT_EXPERIMENT ['{"maxLiveSyncPlaybackRate":1.5}']  one more hls.js run per target with these settings merged
#                   into hls.js's defaults (not the default player: an experiment, labelled so); "" = none
#   LAT_RAW_DIR [""]  keep each latency run's raw player result there (JSON: every frame, cue, error and request)
#   LAT_HLSJS_CONFIG [""]  a JSON object merged into hls.js's config for every hls.js run, for diagnosis (e.g.
#                     '{"debug":true}' with LATENCY_CONSOLE=all in the environment logs hls.js's own log)
#   NS ["500 1000 2000 2500 3000 4000 5000"]  FAN_TARGETS ["openivs nginx"]  DUR [30s]  RAMP [15s]  SETTLE [5s]  PASS [0.99]
#   QUIET_MAX [300]  before each run, wait up to this many seconds for the machine to be idle (<10% busy over 2 s)
#   SKEW_MAX [25] RETRIES [2]  a fan-out run during whose window other processes used more than SKEW_MAX % of one
#                  core is made again after a quiet wait, up to RETRIES times (listed under the table)
#   NGINX_WORKERS [2]  OPENIVS_BIN [build ./cmd/openivs]  FLV [.cache/bench-720p30.flv]
#   CHANNEL_TYPE [BASIC]  the openivs channel's type: BASIC plays the source rendition alone; STANDARD (IVS's default)
#                and ADVANCED_* add openivs's ffmpeg transcoder (a child process: its CPU is counted under "other")
#   PERF_N [""]  with perf installed: after the series, one more openivs run at this N (not in the table), with
#                `perf record -g` of the server for 10 s in the middle of the window; the top of `perf report` is
#                printed and kept in .cache/perf-playback-openivs-N.txt
#
# Exit status: 0 when the runs were made (a target not holding N viewers is a result, not a failure); 2 on
# infrastructure failures (build, input, a target that does not start, a stream that does not play).
set -euo pipefail
cd "$(dirname "$0")/.."

PHASES=$(echo ${PHASES:-latency fanout})
LAT_TARGETS=$(echo ${LAT_TARGETS:-openivs-ts openivs-fmp4 nginx})
LAT_PLAYERS=$(echo ${LAT_PLAYERS:-hlsjs ivs})
LAT_WATCH=${LAT_WATCH:-30s}
LAT_RAW_DIR=${LAT_RAW_DIR:-}
LAT_HLSJS_CONFIG=${LAT_HLSJS_CONFIG:-}
LAT_WARMUP=${LAT_WARMUP:-6s}
LAT_REPEAT=${LAT_REPEAT:-3}
LAT_EXPERIMENT=${LAT_EXPERIMENT-'{"maxLiveSyncPlaybackRate":1.5}'}
NS=$(echo ${NS:-500 1000 2000 2500 3000 4000 5000})
FAN_TARGETS=$(echo ${FAN_TARGETS:-openivs nginx})
DUR=${DUR:-30s}
RAMP=${RAMP:-15s}
SETTLE=${SETTLE:-5s}
PASS=${PASS:-0.99}
QUIET_MAX=${QUIET_MAX:-300}
SKEW_MAX=${SKEW_MAX:-25}
RETRIES=${RETRIES:-2}
NGINX_WORKERS=${NGINX_WORKERS:-2}
OPENIVS_BIN=${OPENIVS_BIN:-}
CHANNEL_TYPE=${CHANNEL_TYPE:-BASIC}
FLV=${FLV:-.cache/bench-720p30.flv}
PERF_N=${PERF_N:-}
PERF_ON=0
BIN=.bin
NGINX_RTMP_MODULE=${NGINX_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-west-2 AWS_PAGER=""

die() { echo "run-playback.sh: FATAL: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

WORK=$(mktemp -d -t openivs-playback-bench.XXXXXX)
chmod 755 "$WORK"
LAT_RESULTS=$WORK/latency.jsonl
FAN_RESULTS=$WORK/fanout.jsonl
SKEWED=$WORK/skewed.jsonl
: >"$LAT_RESULTS"
: >"$FAN_RESULTS"
: >"$SKEWED"
TARGET_PID=""
PUB_PID=""
PIDS=""

stop_pid() {
	local pid=$1
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
stop_all() {
	stop_pid "$PUB_PID"
	PUB_PID=""
	stop_pid "$TARGET_PID"
	TARGET_PID=""
}
cleanup() {
	local rc=$?
	stop_all
	if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "run-playback.sh: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT NAME LOG: until something listens on 127.0.0.1:PORT, or the target exits.
wait_port() {
	local port=$1 name=$2 log=$3
	for _ in $(seq 300); do
		kill -0 "$TARGET_PID" 2>/dev/null || { tail -20 "$log" >&2; die "$name exited during startup"; }
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$log" >&2
	die "$name not listening on $port after 30s"
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
			note "machine still ${busy}% busy after ${QUIET_MAX}s of waiting; running anyway (load average $(cut -d' ' -f1-3 /proc/loadavg))"
			return 0
		fi
	done
	((SECONDS - t0 <= 2)) || note "waited $((SECONDS - t0))s for the machine to go quiet"
}

# --- input and builds ------------------------------------------------------
for c in python3 ffmpeg curl node aws; do command -v $c >/dev/null || die "$c is needed"; done
[[ -d test/player/node_modules/playwright-core ]] || die "the real-player harness is not installed: (cd test/player && npm ci)"
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is needed (apt-get install chromium)"
if [[ ! -s $FLV ]]; then
	note "creating $FLV (60 s of 1280x720 30 fps testsrc2, x264 3 Mbit/s CBR-ish, 1 s GOP, AAC 128k)"
	mkdir -p "$(dirname "$FLV")"
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 \
		-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
		-b:v 3000k -maxrate 3000k -bufsize 3000k -g 30 -keyint_min 30 -sc_threshold 0 \
		-c:a aac -b:a 128k -ar 48000 -ac 2 -f flv "$FLV.tmp" || die "ffmpeg failed to create $FLV"
	mv "$FLV.tmp" "$FLV"
fi
mkdir -p "$BIN"
go build -o "$BIN/hlsload" ./bench/hlsload || die "building bench/hlsload"
go build -o "$BIN/latency" ./bench/latency || die "building bench/latency"
if [[ -z $OPENIVS_BIN ]]; then
	go build -o "$BIN/openivs" ./cmd/openivs || die "building ./cmd/openivs"
	OPENIVS_BIN=$BIN/openivs
fi
if ! command -v nginx >/dev/null || [[ ! -f $NGINX_RTMP_MODULE ]]; then
	note "installing nginx and libnginx-mod-rtmp (Debian)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-rtmp >/dev/null ||
		die "apt-get install nginx libnginx-mod-rtmp failed (run apt-get update first?)"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- targets ---------------------------------------------------------------
# start_openivs LATENCY CONTAINER: sets TARGET_PID, PIDS, PUBLISH_URL, PLAYBACK_URL, CHANNEL_ARN, API
start_openivs() {
	local latency=$1 container=$2 http rtmp rtmps srt data=$WORK/openivs-data log=$WORK/openivs.log ch
	rm -rf "$data"
	http=$(free_port) rtmp=$(free_port) rtmps=$(free_port) srt=$(free_port)
	API=http://127.0.0.1:$http
	"$OPENIVS_BIN" serve --data-dir "$data" --http-addr "127.0.0.1:$http" --rtmp-addr "127.0.0.1:$rtmp" \
		--rtmps-addr "127.0.0.1:$rtmps" --srt-addr "127.0.0.1:$srt" --public-url "$API" --rtmp-allow-insecure \
		--region us-west-2 >>"$log" 2>&1 &
	TARGET_PID=$!
	PIDS=$TARGET_PID
	wait_port "$http" openivs "$log"
	wait_port "$rtmp" openivs "$log"
	ch=$(aws ivs create-channel --endpoint-url "$API" --name bench --type "$CHANNEL_TYPE" --latency-mode "$latency" --container-format "$container" --output json) ||
		die "aws ivs create-channel failed"
	read -r PLAYBACK_URL CHANNEL_ARN key < <(echo "$ch" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["channel"]["playbackUrl"], d["channel"]["arn"], d["streamKey"]["value"])')
	PUBLISH_URL=rtmp://127.0.0.1:$rtmp/app/$key
}

# start_nginx [N]: sets TARGET_PID, PIDS (master and workers), PUBLISH_URL, PLAYBACK_URL
start_nginx() {
	local dir=$WORK/nginx rtmp http worker key=bench conns=$((${1:-0} + 1024))
	rm -rf "$dir"
	mkdir -p "$dir/hls" "$dir/logs"
	chmod 777 "$dir/hls" "$dir/logs"
	rtmp=$(free_port) http=$(free_port)
	cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_RTMP_MODULE;
daemon off;
master_process on;
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections $conns; }
rtmp {
    server {
        listen 127.0.0.1:$rtmp;
        application app {
            live on;
            hls on;
            hls_path $dir/hls;
            hls_fragment 1s;
        }
    }
}
http {
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    access_log off;
    server {
        listen 127.0.0.1:$http backlog=8192;
        location /hls/ {
            alias $dir/hls/;
            types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
            add_header Cache-Control no-cache;
            add_header Access-Control-Allow-Origin *;
            add_header Access-Control-Expose-Headers "Content-Length, Content-Type, Date";
        }
    }
}
EOF
	nginx -t -p "$dir" -c "$dir/nginx.conf" >"$dir/test.log" 2>&1 || { cat "$dir/test.log" >&2; die "nginx -t failed"; }
	nginx -p "$dir" -c "$dir/nginx.conf" >>"$WORK/nginx.log" 2>&1 &
	TARGET_PID=$!
	wait_port "$rtmp" nginx "$dir/logs/error.log"
	wait_port "$http" nginx "$dir/logs/error.log"
	worker=""
	for _ in $(seq 50); do
		worker=$(pgrep -P "$TARGET_PID" | paste -sd, || true)
		[[ -n $worker ]] && break
		sleep 0.1
	done
	[[ -n $worker ]] || die "nginx has no worker process"
	PIDS=$TARGET_PID,$worker
	PUBLISH_URL=rtmp://127.0.0.1:$rtmp/app/$key
	PLAYBACK_URL=http://127.0.0.1:$http/hls/$key.m3u8
	CHANNEL_ARN=""
	API=""
}

# The stamped publisher: bits 39..8 of the 40 blocks are the wall-clock milliseconds (mod 2^32) at which ffmpeg's
# filter graph handled the frame (setpts=RTCTIME puts the wall clock in the frame's timestamp, geq draws it, and
# setpts=N gives the encoder its 30 fps timestamps back), bits 7..0 the sum of its four bytes mod 256. geq draws
# the bits on a 40x2 picture (one pixel per bit; evaluating it on every pixel of the frame would cost the encoder
# machine 35% of a core more and make it fall behind real time under load), scaled up without interpolation to
# 640x32 and laid over the top of the frame.
stamp_filter() {
	local ms ck bit
	ms='mod(floor(T*1000+0.5),4294967296)'
	ck="mod(mod(floor($ms/16777216),256)+mod(floor($ms/65536),256)+mod(floor($ms/256),256)+mod($ms,256),256)"
	bit="if(lt(X,32),mod(floor($ms/pow(2,31-X)),2),mod(floor($ck/pow(2,39-X)),2))"
	echo "[0:v]settb=1/1000000,setpts=RTCTIME,split[a][b];[b]crop=80:2:0:0,scale=40:2:flags=neighbor,geq=lum='if($bit,235,16)':cb=128:cr=128,scale=640:32:flags=neighbor[s];[a][s]overlay=0:0,settb=1/30,setpts=N[v]"
}

publish_stamped() {
	ffmpeg -hide_banner -loglevel warning -re -f lavfi -i testsrc2=size=640x360:rate=30 \
		-f lavfi -i sine=frequency=440:sample_rate=48000 -filter_complex "$(stamp_filter)" -map '[v]' -map 1:a \
		-c:v libx264 -preset veryfast -tune zerolatency -profile:v high -pix_fmt yuv420p -b:v 1500k -maxrate 1500k -bufsize 1500k \
		-g 30 -keyint_min 30 -sc_threshold 0 -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv "$PUBLISH_URL" >>"$WORK/publisher.log" 2>&1 &
	PUB_PID=$!
}

publish_loop() {
	ffmpeg -hide_banner -loglevel warning -re -stream_loop -1 -i "$FLV" -c copy -f flv "$PUBLISH_URL" >>"$WORK/publisher.log" 2>&1 &
	PUB_PID=$!
}

# wait_playable: until the playback URL leads to a media playlist with at least 3 segments (60 s at most).
wait_playable() {
	local t0=$SECONDS
	while ((SECONDS - t0 < 60)); do
		kill -0 "$PUB_PID" 2>/dev/null || { tail -5 "$WORK/publisher.log" >&2; die "the publisher exited"; }
		if python3 - "$PLAYBACK_URL" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.parse
u = sys.argv[1]
body = urllib.request.urlopen(u, timeout=3).read().decode()
if "#EXT-X-STREAM-INF" in body:
    v = [l for l in body.splitlines() if l and not l.startswith("#")][0]
    body = urllib.request.urlopen(urllib.parse.urljoin(u, v), timeout=3).read().decode()
sys.exit(0 if body.count("#EXTINF") >= 3 else 1)
EOF
		sleep 0.5
	done
	die "$PLAYBACK_URL did not become playable in 60 s"
}

start_target() {
	case $1 in
	openivs-ts | openivs | openivs-plain) start_openivs LOW TS ;;
	openivs-fmp4) start_openivs LOW FRAGMENTED_MP4 ;;
	nginx) start_nginx "${2:-0}" ;;
	*) die "unknown target $1" ;;
	esac
}

# --- phase: latency --------------------------------------------------------
phase_latency() {
	local t p i meta
	for t in $LAT_TARGETS; do
		wait_quiet
		start_target "$t"
		publish_stamped
		wait_playable
		sleep 3
		for p in $LAT_PLAYERS; do
			for ((i = 0; i < LAT_REPEAT; i++)); do
				meta=()
				[[ -n $CHANNEL_ARN ]] && meta=(-api-endpoint "$API" -channel-arn "$CHANNEL_ARN")
				[[ -n $LAT_RAW_DIR ]] && meta+=(-raw "$LAT_RAW_DIR/latency-$t-$p-$i.json")
				[[ $p == hlsjs && -n $LAT_HLSJS_CONFIG ]] && meta+=(-hlsjs-config "$LAT_HLSJS_CONFIG")
				note "latency: $t, $p (watch $LAT_WATCH, counted after $LAT_WARMUP; load average $(cut -d' ' -f1-3 /proc/loadavg))"
				if ! "$BIN/latency" -url "$PLAYBACK_URL" -player "$p" -ll -d "$LAT_WATCH" -warmup "$LAT_WARMUP" \
					-label "$t" -json "${meta[@]}" >>"$LAT_RESULTS" 2>"$WORK/latency-$t-$p-$i.txt"; then
					note "latency run failed or measured nothing:"
				fi
				sed 's/^/   /' "$WORK/latency-$t-$p-$i.txt" >&2
			done
		done
		if [[ -n $LAT_EXPERIMENT && " $LAT_PLAYERS " == *" hlsjs "* ]]; then
			meta=()
			[[ -n $CHANNEL_ARN ]] && meta=(-api-endpoint "$API" -channel-arn "$CHANNEL_ARN")
			note "latency: $t, hlsjs with $LAT_EXPERIMENT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
			"$BIN/latency" -url "$PLAYBACK_URL" -player hlsjs -ll -d "$LAT_WATCH" -warmup "$LAT_WARMUP" -hlsjs-config "$LAT_EXPERIMENT" \
				-label "$t" -json "${meta[@]}" >>"$LAT_RESULTS" 2>"$WORK/latency-$t-experiment.txt" || note "latency run failed or measured nothing:"
			sed 's/^/   /' "$WORK/latency-$t-experiment.txt" >&2
		fi
		stop_all
	done
}

# --- phase: fan-out --------------------------------------------------------
# fan_once TARGET N: appends hlsload's JSON line to $RUN_OUT; returns hlsload's status (0 passed, 1 not).
fan_once() {
	local target=$1 n=$2 rc=0 mode=() perf_pid="" log=$WORK/fanout-$1-$2.txt
	wait_quiet
	start_target "$target" "$n"
	publish_loop
	wait_playable
	sleep 2
	[[ $target == nginx || $target == openivs-plain ]] && mode=(-plain)
	if [[ $PERF_ON == 1 ]]; then
		(
			sleep $((${RAMP%s} + ${SETTLE%s} + ${DUR%s} / 2 - 5))
			perf record -g -o "$WORK/perf-$n.data" -p "$TARGET_PID" -- sleep 10 >/dev/null 2>&1
		) &
		perf_pid=$!
	fi
	note "fan-out: $target N=$n (ramp $RAMP, settle $SETTLE, window $DUR; load average $(cut -d' ' -f1-3 /proc/loadavg))"
	"$BIN/hlsload" -url "$PLAYBACK_URL" -n "$n" -ramp "$RAMP" -settle "$SETTLE" -d "$DUR" -target-pid "$PIDS" \
		-label "$target" -pass "$PASS" -json "${mode[@]}" >"$RUN_OUT" 2>"$log" || rc=$?
	sed 's/^/   /' "$log" >&2
	if [[ -n $perf_pid ]]; then
		wait "$perf_pid" || true
		note "perf report (openivs, N=$n, 10 s in the middle of the window):"
		perf report -i "$WORK/perf-$n.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 >&2 || true
		perf report -i "$WORK/perf-$n.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 >"$WORK/perf-$n-children.txt" || true
		mkdir -p .cache && cp "$WORK/perf-$n-children.txt" ".cache/perf-playback-openivs-$n.txt" 2>/dev/null || true
	fi
	if ! kill -0 "$TARGET_PID" 2>/dev/null; then
		note "!!! $target died during the run"
		rc=1
	fi
	stop_all
	case $rc in
	0 | 1) return $rc ;;
	*) die "hlsload failed against $target N=$n, see above" ;;
	esac
}

fan_one() {
	local rc try other
	RUN_OUT=$WORK/run.json
	for ((try = 0; ; try++)); do
		rc=0
		fan_once "$@" || rc=$?
		other=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["other_cpu_pct"]))' "$RUN_OUT")
		if ((other <= SKEW_MAX || try >= RETRIES)); then
			cat "$RUN_OUT" >>"$FAN_RESULTS"
			return $rc
		fi
		note "other processes used ${other}% of one core during that run: making it again"
		cat "$RUN_OUT" >>"$SKEWED"
	done
}

phase_fanout() {
	declare -A stopped=()
	local n t
	for n in $NS; do
		for t in $FAN_TARGETS; do
			[[ -z ${stopped[$t]:-} ]] || continue
			if ! fan_one "$t" "$n"; then
				stopped[$t]=$n
				note "$t did not deliver $PASS of the parts within 1 s to N=$n: its series stops here"
			fi
		done
	done
	if [[ -n $PERF_N ]]; then
		if command -v perf >/dev/null; then
			# a run of its own (perf's sampling costs CPU): not in the table
			note "profiling openivs at N=$PERF_N (a run of its own, not in the table)"
			PERF_ON=1
			RUN_OUT=$WORK/perf-run.json
			fan_once openivs "$PERF_N" || true
			PERF_ON=0
		else
			note "PERF_N is set but perf is not installed: no profile"
		fi
	fi
}

# --- run -------------------------------------------------------------------
note "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), rtmp module $(dpkg-query -W -f '${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?'), $(ffmpeg -version | head -1 | cut -d' ' -f1-3), $(/usr/bin/chromium --version 2>/dev/null)"
note "openivs: $OPENIVS_BIN at $(git describe --always --dirty 2>/dev/null || echo '?'); phases: $PHASES; channel type $CHANNEL_TYPE"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ph in $PHASES; do
	case $ph in
	latency) phase_latency ;;
	fanout) phase_fanout ;;
	*) die "unknown phase $ph" ;;
	esac
done
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ----------------------------------------------------------------
python3 - "$LAT_RESULTS" "$FAN_RESULTS" "$SKEWED" "$SKEW_MAX" <<'EOF'
import json, sys
lat = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fan = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
skewed = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
skew_max = float(sys.argv[4])
def f0(x): return f"{x:.0f}"
if lat:
    import statistics
    def med(v): return statistics.median(v) if v else float("nan")
    def player_name(r):
        n = r["player"] + (" (lowLatencyMode)" if r["player"] == "hlsjs" and r["low_latency"] else "")
        if r.get("hlsjs_config"):
            n += " + " + r["hlsjs_config"]
        return n
    print()
    print("Every run (frame = capture→display of every presented frame after the warm-up; metadata = PutMetadata→display):")
    print()
    print("| target | player | frame p50 ms | frame p90 ms | frames | stalls (s) | capture slip ms | metadata p50 ms | metadata p90 ms | cues | player's estimate p50 ms | load average |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in lat:
        m = r["metadata"]
        meta = (f0(m["p50_ms"]), f0(m["p90_ms"]), str(m["n"])) if r["metadata_sent"] else ("—", "—", "—")
        fr = r["frame"]
        fatal = " (fatal)" if r["fatal"] else ""
        est = f0(r["player_estimate"]["p50_ms"]) if r["player_estimate"]["n"] else "—"
        print(f'| {r["label"]} | {player_name(r)}{fatal} | {f0(fr["p50_ms"])} | {f0(fr["p90_ms"])} | {fr["n"]} | {r["stalls"]} ({r["stalled_s"]:.1f}) '
              f'| {r.get("capture_slip_ms", 0):.0f} | {meta[0]} | {meta[1]} | {meta[2]} | {est} | {r["loadavg"]} |')
    groups = {}
    for r in lat:
        groups.setdefault((r["label"], player_name(r)), []).append(r)
    print()
    print("Per target and player: the frames of all its runs pooled (p50, p90), each run's own p50, and the median of the")
    print("runs' metadata p50 and p90:")
    print()
    print("| target | player | runs | frame p50 ms | frame p90 ms | runs' frame p50 ms | metadata p50 ms | metadata p90 ms |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    agg = {}
    def pct(v, q):
        v = sorted(v)
        return v[max(0, min(len(v) - 1, -(-len(v) * q // 100) - 1))] if v else float("nan")
    for (t, p), rs in groups.items():
        pooled = [x for r in rs for x in (r.get("frame_ms") or [])]
        f50 = [r["frame"]["p50_ms"] for r in rs if r["frame"]["n"]]
        m50 = [r["metadata"]["p50_ms"] for r in rs if r["metadata"]["n"]]
        m90 = [r["metadata"]["p90_ms"] for r in rs if r["metadata"]["n"]]
        agg[(t, p)] = pct(pooled, 50)
        runs = ", ".join(f"{x:.0f}" for x in f50)
        mm = (f"{med(m50):.0f}", f"{med(m90):.0f}") if m50 else ("—", "—")
        print(f"| {t} | {p} | {len(rs)} | {pct(pooled, 50):.0f} | {pct(pooled, 90):.0f} | {runs} | {mm[0]} | {mm[1]} |")
    print()
    for p in ("hlsjs (lowLatencyMode)", "ivs"):
        ref = agg.get(("nginx", p))
        for t in ("openivs-ts", "openivs-fmp4"):
            if ref and (t, p) in agg:
                print(f"- {p}: {t} frame p50 {agg[(t, p)]:.0f} ms vs nginx-rtmp {ref:.0f} ms: {agg[(t, p)] / ref:.2f}x")
if fan:
    print()
    print("| target | mode | N | joined | playing | all parts ≤1 s | parts | p50 ms | p99 ms | max ms | within 1 s | missed | errors | listed after media end p50/p99 ms | req/s | Gbit/s | server CPU % | server RSS MB | hlsload CPU % | other CPU % | load average start → end |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    best = {}
    for r in fan:
        lag = f'{r["list_lag_p50_ms"]:.0f}/{r["list_lag_p99_ms"]:.0f}' if r["list_lag_known"] else "—"
        died = " (died)" if r["target_died"] else ""
        within = f'{100 * r["within"]:.2f}%'
        if r["within"] < 0.99:
            within = f"**{within}**"
        print(f'| {r["label"]}{died} | {r["mode"]} | {r["n"]} | {r["joined"]} | {r["playing"]} | {r["all_within"]} | {r["parts"]} '
              f'| {r["p50_ms"]:.0f} | {r["p99_ms"]:.0f} | {r["max_ms"]:.0f} | {within} | {r["missed"]} | {r["errors"]} | {lag} '
              f'| {r["req_per_s"]:.0f} | {r["gbit_per_s"]:.2f} | {r["target_cpu_pct"]:.0f} | {r["target_rss_mb"]:.0f} '
              f'| {r["load_cpu_pct"]:.0f} | {r["other_cpu_pct"]:.0f} | {r["loadavg_start"]} → {r["loadavg_end"]} |')
        if r["within"] >= 0.99 and not r["target_died"]:
            b = best.get(r["label"])
            if b is None or r["n"] > b["n"]:
                best[r["label"]] = r
    print()
    for label, r in best.items():
        print(f'- {label}: up to N={r["n"]} with {100 * r["within"]:.2f}% of parts within 1 s: server {r["target_cpu_pct"]:.0f}% of one core, '
              f'{r["target_rss_mb"]:.0f} MB RSS; hlsload {r["load_cpu_pct"]:.0f}%')
    if "openivs" in best and "nginx" in best:
        o, g = best["openivs"], best["nginx"]
        print(f'- largest N held, openivs / nginx-rtmp: {o["n"]} / {g["n"]} = {o["n"] / g["n"]:.2f}x')
    common = {r["n"] for r in fan if r["label"] == "openivs"} & {r["n"] for r in fan if r["label"] == "nginx"}
    for n in sorted(common):
        o = [r for r in fan if r["label"] == "openivs" and r["n"] == n][-1]
        g = [r for r in fan if r["label"] == "nginx" and r["n"] == n][-1]
        if g["target_cpu_pct"] > 0:
            print(f'- N={n}: server CPU openivs / nginx {o["target_cpu_pct"] / g["target_cpu_pct"]:.2f}x, RSS {o["target_rss_mb"] / max(g["target_rss_mb"], 0.1):.2f}x')
    for r in skewed:
        print(f'- made again: {r["label"]} N={r["n"]} while other processes used {r["other_cpu_pct"]:.0f}% of one core')
    for r in fan:
        if r["other_cpu_pct"] > skew_max:
            print(f'- **WARNING: other processes used {r["other_cpu_pct"]:.0f}% of one core during {r["label"]} N={r["n"]}**')
    print("- CPU % = % of ONE core over the window (200 = both cores); hlsload shares the cores; 'other' includes the publisher (ffmpeg -c copy).")
EOF
