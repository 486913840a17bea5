#!/usr/bin/env bash
# bench/run-ingest.sh -- how many live RTMP streams does openivs hold, against nginx-rtmp, on this machine?
#
# In one run, for each N in $NS and each target in $TARGETS (interleaved: N=25 for every target, then N=50, ...),
# start the target afresh, wait for a quiet machine, publish N streams of the same pre-encoded FLV (720p30,
# ~3 Mbit/s H.264 + AAC) at real-time rate with bench/ingestload for $DUR after a ramp of $RAMP, record the
# result, stop the target. A target's series stops at the first N it does not hold. Finally print a markdown
# table.
#
# Targets:
#   openivs    openivs serve --rtmp-allow-insecure --quota-channels max(1000, N) --quota-concurrent-streams 0 (open auth;
#              no limit on live streams: the IVS default quota of 100 would refuse the 101st); max(NS) channels
#              created once through the API by ingestload -create-channels, their stream keys used in order.
#              Every stream is packaged for playback as it arrives (LL-HLS: the channels are LOW latency, the
#              default), into memory: a window of segments and parts per stream, nobody playing.
#   openivs-rec  the same openivs, but its own max(NS) channels all record (ingestload -create-channels
#              -recording-bucket: a recording configuration with IVS's defaults, thumbnails every 60 s by ffmpeg)
#              to versitygw, an S3 server started once on loopback over a temp dir ($BIN/versitygw, copied there
#              or installed by scripts/test.sh; the bucket is made with the aws CLI). versitygw's CPU and RSS are
#              reported apart (-aux-pid); ffmpeg's CPU is in openivs's (children it reaped). After each run the
#              recordings are checked (recording-ended.json, seconds and segments recorded against seconds
#              published, thumbnails) and deleted. Thumbnails come every 60 s, the first in the ramp: use DUR=60s
#              for a window with one per channel.
#   nginx-hls  nginx + libnginx-mod-rtmp (Debian), application app { live on; hls on; hls_fragment 1s; }: its
#              playlists keep hls_playlist_length's default 30 s. Its fragments are files (in the page cache): their
#              bytes are sampled with the RSS (ingestload -files-dir) and reported as "files MB".
#   nginx-hls8 the same with hls_playlist_length 8s: the window of openivs's LOW latency playlists (8 s)
#   nginx      the same with hls off (relay only: parses and holds the streams, packages nothing)
#   nginx runs in the foreground (daemon off) with a master and worker_processes 1, the way nginx-rtmp's live
#   applications must run; its CPU and RSS are those of the master and its children (worker, cache manager).
#
# Environment knobs (defaults in brackets):
#   NS ["25 50 100 150 200 300 400"]  TARGETS ["openivs nginx-hls nginx"]  DUR [30s]  RAMP [20s]  SETTLE [3s]
#   LATE [500ms]  the lateness / backlog threshold of "dropping a frame"
#   QUIET_MAX [300]  before each run, wait up to this many seconds for the machine to be idle (<10% busy over
#                    2s); 0 = do not wait.
#   SKEW_MAX [15] RETRIES [2]  a run during whose window other processes used more than SKEW_MAX % of one
#                  core is made again after a quiet wait, up to RETRIES times; the skewed rows are listed under
#                  the table.
#   FLV [.cache/bench-720p30.flv]  created with ffmpeg when missing
#   S3_BUCKET [openivs-bench]  openivs-rec's bucket
#   CHANNEL_TYPE [BASIC]  type of openivs's channels: BASIC delivers the source only (ingest, packaging,
#                  recording: what this script measures); STANDARD and ADVANCED_* are transcoded into a ladder by
#                  ffmpeg (since a600a2c; bench/transcode measures that)
#   OPENIVS_BIN []  an openivs binary to measure instead of building ./cmd/openivs (a baseline, another commit)
#   ACK_CHECK [1]  first, publish 5 streams to each target for 20 s asking for an RTMP acknowledgement every
#                  2,500,000 bytes (what the gortmplib client asks for; ingestload asks for none by default,
#                  like OBS and ffmpeg); rows labelled TARGET-ack2.5MB
#
# Exit status: 0 when the runs were made (a target not holding N streams is a result, not a failure);
# 2 on infrastructure failures (build, input, a target that does not start, ingestload errors).
set -euo pipefail
cd "$(dirname "$0")/.."

NS=$(echo ${NS:-25 50 100 150 200 300 400})
TARGETS=$(echo ${TARGETS:-openivs nginx-hls nginx})
DUR=${DUR:-30s}
RAMP=${RAMP:-20s}
SETTLE=${SETTLE:-3s}
LATE=${LATE:-500ms}
QUIET_MAX=${QUIET_MAX:-300}
SKEW_MAX=${SKEW_MAX:-15}
RETRIES=${RETRIES:-2}
ACK_CHECK=${ACK_CHECK:-1}
FLV=${FLV:-.cache/bench-720p30.flv}
BIN=.bin
NGINX_RTMP_MODULE=${NGINX_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}

die() { echo "run-ingest.sh: FATAL: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

WORK=$(mktemp -d -t openivs-ingest-bench.XXXXXX)
chmod 755 "$WORK"
RESULTS=$WORK/results.jsonl
SKEWED=$WORK/skewed.jsonl
: >"$RESULTS"
: >"$SKEWED"
TARGET_PID=""
S3_PID=""

stop_target() {
	[[ -n $TARGET_PID ]] || return 0
	if kill -0 "$TARGET_PID" 2>/dev/null; then
		kill "$TARGET_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$TARGET_PID" 2>/dev/null || true
	fi
	wait "$TARGET_PID" 2>/dev/null || true
	TARGET_PID=""
	if [[ -n $CG ]]; then
		rmdir "$CG" 2>/dev/null || true
		CG=""
	fi
}

# Memory cgroups. When this script may make a memory cgroup under its own (v1, or v2 mounted at /sys/fs/cgroup),
# each target runs in one of its own, and ingestload samples what the kernel charges to it: anonymous memory,
# shared memory, the page cache of the files it writes (nginx-rtmp's fragments) and kernel memory, the same
# account for every target. CG_ROOT is empty otherwise (the column is then left out).
CG_ROOT="" CG=""
cg_line=$(grep -m1 -E '^[0-9]+:memory:' /proc/self/cgroup || true)
if [[ -n $cg_line && -d /sys/fs/cgroup/memory${cg_line#*:memory:} ]]; then
	CG_ROOT=/sys/fs/cgroup/memory${cg_line#*:memory:}
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -q '^0::' /proc/self/cgroup; then
	CG_ROOT=/sys/fs/cgroup$(grep -m1 '^0::' /proc/self/cgroup | cut -d: -f3)
fi
if [[ -n $CG_ROOT ]] && ! { mkdir "$CG_ROOT/openivs-bench-probe-$$" 2>/dev/null && rmdir "$CG_ROOT/openivs-bench-probe-$$"; }; then
	CG_ROOT=""
fi
# cg_enter LABEL: moves the target's processes ($PIDS) into a new memory cgroup, sets CG.
cg_enter() {
	[[ -n $CG_ROOT ]] || return 0
	CG=$CG_ROOT/openivs-bench-$$-$1
	mkdir -p "$CG" || { CG=""; return 0; }
	local p
	for p in ${PIDS//,/ }; do
		echo "$p" >"$CG/cgroup.procs" 2>/dev/null || note "could not move $p into $CG"
	done
}
cleanup() {
	local rc=$?
	stop_target
	if [[ -n $S3_PID ]]; then
		kill "$S3_PID" 2>/dev/null || true
		wait "$S3_PID" 2>/dev/null || true
	fi
	if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "run-ingest.sh: logs kept in $WORK" >&2; fi
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
			note "machine still ${busy}% busy after ${QUIET_MAX}s of waiting; running anyway"
			return 0
		fi
	done
	((SECONDS - t0 <= 2)) || note "waited $((SECONDS - t0))s for the machine to go quiet"
}

# --- input and builds ------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed (free ports, the report)"
if [[ ! -s $FLV ]]; then
	command -v ffmpeg >/dev/null || die "ffmpeg is needed to create $FLV (apt-get install -y ffmpeg)"
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
go build -o "$BIN/ingestload" ./bench/ingestload || die "building bench/ingestload"
OPENIVS=$BIN/openivs
if [[ -n ${OPENIVS_BIN:-} ]]; then
	OPENIVS=$OPENIVS_BIN
	[[ -x $OPENIVS ]] || die "OPENIVS_BIN=$OPENIVS_BIN is not an executable"
elif [[ " $TARGETS " == *" openivs"* ]]; then
	go build -o "$BIN/openivs" ./cmd/openivs || die "building ./cmd/openivs"
fi
if [[ " $TARGETS " == *" openivs-rec "* ]]; then
	[[ -x $BIN/versitygw ]] || die "openivs-rec needs $BIN/versitygw (scripts/test.sh installs it)"
	command -v aws >/dev/null || die "openivs-rec needs the aws CLI (to create the bucket)"
	command -v ffmpeg >/dev/null || note "!!! no ffmpeg: openivs-rec's recordings get no thumbnails"
	if [[ $DUR =~ ^([0-9]+)s$ ]] && ((BASH_REMATCH[1] < 60)); then
		note "!!! DUR=$DUR: thumbnails are cut every 60 s and the first falls in the ramp, so this window has none"
	fi
fi
if [[ " $TARGETS " == *" nginx"* ]]; then
	if ! command -v nginx >/dev/null || [[ ! -f $NGINX_RTMP_MODULE ]]; then
		note "installing nginx and libnginx-mod-rtmp (Debian)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-rtmp >/dev/null ||
			die "apt-get install nginx libnginx-mod-rtmp failed (run apt-get update first?)"
	fi
	[[ -f $NGINX_RTMP_MODULE ]] || die "no nginx rtmp module at $NGINX_RTMP_MODULE"
fi
MAXN=0
for n in $NS; do ((n > MAXN)) && MAXN=$n; done

# --- targets ---------------------------------------------------------------
OPENIVS_DATA=$WORK/openivs-data
OPENIVS_KEYS=$WORK/openivs-keys.txt
OPENIVS_KEYS_REC=$WORK/openivs-rec-keys.txt

S3_BUCKET=${S3_BUCKET:-openivs-bench}
CHANNEL_TYPE=${CHANNEL_TYPE:-BASIC}
S3_DIR=$WORK/s3

# start_s3: versitygw on loopback over $S3_DIR, with $S3_BUCKET; sets S3_PID, S3_ENDPOINT. It runs until the end.
start_s3() {
	local port
	port=$(free_port)
	mkdir -p "$S3_DIR"
	ROOT_ACCESS_KEY=test ROOT_SECRET_KEY=testsecret123 "$BIN/versitygw" --port "127.0.0.1:$port" posix "$S3_DIR" \
		>>"$WORK/versitygw.log" 2>&1 &
	S3_PID=$!
	S3_ENDPOINT=http://127.0.0.1:$port
	TARGET_PID=$S3_PID wait_port "$port" versitygw "$WORK/versitygw.log"
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=testsecret123 aws --endpoint-url "$S3_ENDPOINT" --region us-east-1 \
		s3api create-bucket --bucket "$S3_BUCKET" >/dev/null || die "creating bucket $S3_BUCKET in versitygw"
	note "versitygw (pid $S3_PID) at $S3_ENDPOINT over $S3_DIR, bucket $S3_BUCKET"
}

# start_openivs [rec]: sets TARGET_PID, RTMP_PORT, PIDS. With rec: its own data directory and channels, which
# record to versitygw.
start_openivs() {
	local http rtmps srt data=$OPENIVS_DATA keys=$OPENIVS_KEYS log=$WORK/openivs.log rec=() create=()
	if [[ ${1:-} == rec ]]; then
		[[ -n $S3_PID ]] || start_s3
		data=$OPENIVS_DATA-rec keys=$OPENIVS_KEYS_REC log=$WORK/openivs-rec.log
		rec=(--recording-s3-endpoint "$S3_ENDPOINT" --recording-s3-region us-east-1
			--recording-s3-access-key-id test --recording-s3-secret-access-key testsecret123)
		create=(-recording-bucket "$S3_BUCKET")
	fi
	http=$(free_port) RTMP_PORT=$(free_port) rtmps=$(free_port) srt=$(free_port)
	"$OPENIVS" serve --data-dir "$data" --http-addr "127.0.0.1:$http" --rtmp-addr "127.0.0.1:$RTMP_PORT" \
		--rtmps-addr "127.0.0.1:$rtmps" --srt-addr "127.0.0.1:$srt" --rtmp-allow-insecure --quota-channels "$((MAXN > 1000 ? MAXN : 1000))" --quota-concurrent-streams 0 \
		"${rec[@]}" >>"$log" 2>&1 &
	TARGET_PID=$!
	PIDS=$TARGET_PID
	wait_port "$RTMP_PORT" openivs "$log"
	wait_port "$http" openivs "$log"
	if [[ ! -s $keys ]]; then
		note "openivs: creating $MAXN $CHANNEL_TYPE channels through the API${create[*]:+ (${create[*]})}"
		"$BIN/ingestload" -create-channels "$MAXN" -channel-type "$CHANNEL_TYPE" -api-endpoint "http://127.0.0.1:$http" -keys-file "$keys" "${create[@]}" ||
			die "creating openivs channels"
	fi
}

# check_recordings N: after an openivs-rec run, waits (up to 60 s) for the N recordings to end, then merges what was
# recorded into $RUN_OUT ("recording": recordings, ended, seconds and segments against those published, thumbnails)
# and deletes the recordings.
check_recordings() {
	local n=$1 ended=0
	for _ in $(seq 120); do
		ended=$(find "$S3_DIR/$S3_BUCKET" -name recording-ended.json 2>/dev/null | wc -l)
		((ended >= n)) && break
		sleep 0.5
	done
	python3 - "$S3_DIR/$S3_BUCKET" "$RUN_OUT" "$SETTLE" <<'PY' || die "checking the recordings"
import glob, json, math, os, re, sys
root, out, settle = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(out))
def secs(d):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m)", d)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)] if m else 0.0
# Stream i of N publishes from ramp*i/N to the end of the window.
n, ramp, span = r["n"], r["ramp_s"], r["ramp_s"] + secs(settle) + r["window_s"]
published = sorted(span - ramp * i / n if n > 1 else span for i in range(n))
recs = []
for started in glob.glob(os.path.join(root, "ivs/v1/*/*/*/*/*/*/*/*/events/recording-started.json")):
    d = os.path.dirname(os.path.dirname(started))
    secs_, segs, nbytes = 0.0, 0, 0
    for pl in glob.glob(os.path.join(d, "media/hls/*/playlist.m3u8")):
        secs_ += sum(float(x) for x in re.findall(r"#EXTINF:([0-9.]+)", open(pl).read()))
        for ts in glob.glob(os.path.join(os.path.dirname(pl), "*.ts")):
            segs += 1
            nbytes += os.path.getsize(ts)
    recs.append({"ended": os.path.exists(os.path.join(d, "events/recording-ended.json")),
                 "failed": os.path.exists(os.path.join(d, "events/recording-failed.json")),
                 "s": secs_, "segs": segs, "bytes": nbytes,
                 "thumbs": len(glob.glob(os.path.join(d, "media/thumbnails/*.jpg")))})
recs.sort(key=lambda x: x["s"])
pairs = list(zip(recs, published[-len(recs):] if recs else []))
rec = {"recordings": len(recs), "ended": sum(x["ended"] for x in recs), "failed": sum(x["failed"] for x in recs),
       "recorded_s": round(sum(x["s"] for x in recs), 1), "published_s": round(sum(published), 1),
       "min_ratio": round(min((x["s"] / p for x, p in pairs), default=0), 3),
       "segments": sum(x["segs"] for x in recs), "segments_expected": sum(math.ceil(p / 10) for p in published),
       "thumbnails": sum(x["thumbs"] for x in recs), "thumbnails_expected": sum(1 + int((p - 1) // 60) for p in published),
       "ts_kbps": round(sum(x["bytes"] for x in recs) * 8 / 1000 / max(1e-9, sum(x["s"] for x in recs)), 1)}
r["recording"] = rec
with open(out, "w") as f:
    f.write(json.dumps(r) + "\n")
print("   recordings: %(recordings)d (%(ended)d ended, %(failed)d failed), %(recorded_s).0f s recorded of %(published_s).0f s published "
      "(worst recording %(min_ratio).3f of its stream), %(segments)d segments (%(segments_expected)d expected at 10 s), "
      "%(thumbnails)d thumbnails (%(thumbnails_expected)d expected), MPEG-TS at %(ts_kbps).0f kbit/s" % rec, file=sys.stderr)
PY
	rm -rf "${S3_DIR:?}/$S3_BUCKET/ivs"
}

# start_nginx on|off [PLAYLIST_LENGTH]: sets TARGET_PID, RTMP_PORT, PIDS (master and its children)
start_nginx() {
	local hls=$1 length=${2:-} dir=$WORK/nginx-$1${2:-} worker
	rm -rf "$dir"
	mkdir -p "$dir/hls" "$dir/logs"
	chmod 777 "$dir/hls" "$dir/logs"
	RTMP_PORT=$(free_port)
	cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_RTMP_MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
rtmp {
    server {
        listen 127.0.0.1:$RTMP_PORT;
        application app {
            live on;
            hls $hls;
            hls_path $dir/hls;
            hls_fragment 1s;${length:+
            hls_playlist_length $length;}
        }
    }
}
EOF
	nginx -t -p "$dir" -c "$dir/nginx.conf" >"$dir/test.log" 2>&1 || { cat "$dir/test.log" >&2; die "nginx -t failed"; }
	nginx -p "$dir" -c "$dir/nginx.conf" >>"$WORK/nginx-$hls.log" 2>&1 &
	TARGET_PID=$!
	wait_port "$RTMP_PORT" nginx "$dir/logs/error.log"
	# The master's children: the worker and Debian's build's cache manager (idle here); CPU and RSS are summed.
	worker=""
	for _ in $(seq 50); do
		worker=$(pgrep -P "$TARGET_PID" | paste -sd, || true)
		[[ -n $worker ]] && break
		sleep 0.1
	done
	[[ -n $worker ]] || die "nginx has no worker process"
	PIDS=$TARGET_PID,$worker
}

# run_once TARGET N [LABEL DUR RAMP INGESTLOAD-FLAGS...]: appends a JSON line to $RUN_OUT; returns 0 if every
# stream was held, 1 if not.
run_once() {
	local target=$1 n=$2 rc=0 keys=() log label=${3:-$1} dur=${4:-$DUR} ramp=${5:-$RAMP} logstart=0 aux=()
	local extra=("${@:6}")
	wait_quiet
	case $target in
	openivs)
		[[ -f $WORK/openivs.log ]] && logstart=$(wc -l <"$WORK/openivs.log")
		start_openivs
		keys=(-keys-file "$OPENIVS_KEYS")
		;;
	openivs-rec)
		[[ -f $WORK/openivs-rec.log ]] && logstart=$(wc -l <"$WORK/openivs-rec.log")
		start_openivs rec
		keys=(-keys-file "$OPENIVS_KEYS_REC")
		aux=(-aux-pid "$S3_PID")
		;;
	nginx-hls) start_nginx on; keys=(-keys "nginx-" -files-dir "$WORK/nginx-on/hls") ;;
	nginx-hls8) start_nginx on 8s; keys=(-keys "nginx-" -files-dir "$WORK/nginx-on8s/hls") ;;
	nginx) start_nginx off; keys=(-keys "nginx-") ;;
	*) die "unknown target $target" ;;
	esac
	cg_enter "$label-$n"
	sleep 1
	log=$WORK/$label-$n.txt
	note "$label N=$n (ramp $ramp, settle $SETTLE, measured $dur${extra[*]:+, ${extra[*]}})"
	"$BIN/ingestload" -url-template "rtmp://127.0.0.1:$RTMP_PORT/app/%s" "${keys[@]}" -n "$n" -d "$dur" \
		-ramp "$ramp" -settle "$SETTLE" -late "$LATE" -flv "$FLV" -target-pid "$PIDS" "${aux[@]}" -label "$label" -json ${CG:+-cgroup "$CG"} \
		"${extra[@]}" >"$RUN_OUT" 2>"$log" || rc=$?
	sed 's/^/   /' "$log" >&2
	if [[ $target == openivs* && $rc != 0 ]]; then
		note "$target log: why connections closed during this run"
		tail -n +"$((logstart + 1))" "$WORK/$target.log" | grep -o 'reason="[^"]*"' |
			sed -E 's/[0-9.]+:[0-9]+/ADDR/g' | sort | uniq -c | sort -rn | head -5 >&2 || true
	fi
	if [[ $target == openivs-rec && $rc -le 1 ]] && kill -0 "$TARGET_PID" 2>/dev/null; then
		check_recordings "$n"
		note "$target log: warnings and errors during this run (count, message)"
		tail -n +"$((logstart + 1))" "$WORK/$target.log" | grep -E 'level=(WARN|ERROR)' | grep -oE 'msg=("[^"]*"|[^ ]*)' |
			sort | uniq -c | sort -rn | head -5 >&2 || true
	fi
	if [[ $target == nginx-hls* ]]; then
		local hdir=$WORK/nginx-on
		[[ $target == nginx-hls8 ]] && hdir=$WORK/nginx-on8s
		note "$target: $(find "$hdir/hls" -name '*.m3u8' | wc -l) playlists, $(find "$hdir/hls" -name '*.ts' | wc -l) .ts fragments on disk"
	fi
	if ! kill -0 "$TARGET_PID" 2>/dev/null; then
		note "!!! $target died during the run"
		rc=1
	fi
	stop_target
	case $rc in
	0 | 1) return $rc ;;
	*) die "ingestload failed against $target N=$n, see above" ;;
	esac
}

# run_one: run_once, made again (up to $RETRIES times) when other processes were busy during its window.
run_one() {
	local rc try other
	RUN_OUT=$WORK/run.json
	for ((try = 0; ; try++)); do
		rc=0
		run_once "$@" || rc=$?
		other=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["other_cpu_pct"]))' "$RUN_OUT")
		if ((other <= SKEW_MAX || try >= RETRIES)); then
			cat "$RUN_OUT" >>"$RESULTS"
			return $rc
		fi
		note "other processes used ${other}% of one core during that run: making it again"
		cat "$RUN_OUT" >>"$SKEWED"
	done
}

# --- run -------------------------------------------------------------------
note "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), rtmp module $(dpkg-query -W -f '${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?')"
note "targets: $TARGETS; N: $NS; ramp $RAMP, settle $SETTLE, measured $DUR, late threshold $LATE"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $ACK_CHECK == 1 ]]; then
	# gortmplib's client asks the server for an RTMP acknowledgement every 2,500,000 bytes; OBS and ffmpeg ask
	# for none, and so does ingestload by default (-ack-window). This check publishes 5 streams for long enough
	# (> 5 MB each) with gortmplib's window, to show whether the server's acknowledgements work.
	for t in $TARGETS; do
		run_one "$t" 5 "$t-ack2.5MB" 20s 1s -ack-window 0 || note "$t does not hold streams that ask for acknowledgements"
	done
fi
declare -A STOPPED=()
for n in $NS; do
	for t in $TARGETS; do
		[[ -z ${STOPPED[$t]:-} ]] || continue
		if ! run_one "$t" "$n"; then
			STOPPED[$t]=$n
			note "$t did not hold N=$n: its series stops here"
		fi
	done
done
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ----------------------------------------------------------------
python3 - "$RESULTS" "$SKEWED" "$SKEW_MAX" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
skewed = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
skew_max = float(sys.argv[3])
print()
print("| target | N | streams held | late frames | streams behind | max backlog s | server CPU % of one core | server RSS MB | files MB | cgroup MB | CPU % per stream | RSS MB per stream | RSS + files MB per stream | cgroup MB per stream | ingestload CPU % | other CPU % | load average start → end |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
best = {}
for r in rows:
    n = r["n"]
    held = f'{r["held"]}' if r["held"] == n else f'**{r["held"]}**'
    per_cpu = r["target_cpu_pct"] / n
    per_rss = (r["target_rss_mb"] - r["target_rss_idle_mb"]) / n
    per_mem = per_rss + r.get("files_mb", 0) / n
    cg = r.get("cgroup_mb", 0)
    per_cg = f'{(cg - r.get("cgroup_idle_mb", 0)) / n:.2f}' if cg else "—"
    cg = f'{cg:.1f}' if cg else "—"
    died = " (died)" if r["target_died"] else ""
    print(f'| {r["label"]}{died} | {n} | {held} | {r["late_frames"]} | {r["behind_streams"]} | {r["max_backlog_s"]:.2f} '
          f'| {r["target_cpu_pct"]:.1f} | {r["target_rss_mb"]:.1f} | {r.get("files_mb", 0):.1f} | {cg} '
          f'| {per_cpu:.2f} | {per_rss:.2f} | {per_mem:.2f} | {per_cg} '
          f'| {r["load_cpu_pct"]:.1f} | {r["other_cpu_pct"]:.1f} | {r.get("loadavg_start", "?")} → {r.get("loadavg_end", "?")} |')
    if r["held"] == n and not r["target_died"]:
        b = best.get(r["label"])
        if b is None or n > b["n"]:
            best[r["label"]] = r
print()
for label, r in best.items():
    print(f'- {label}: held up to N={r["n"]}: {r["target_cpu_pct"]:.1f}% of one core, {r["target_rss_mb"]:.1f} MB RSS '
          f'({r["target_cpu_pct"] / r["n"]:.2f}% and {(r["target_rss_mb"] - r["target_rss_idle_mb"]) / r["n"]:.2f} MB per stream)')
for label in sorted({r["label"] for r in rows}):
    if label not in best:
        print(f'- {label}: held no N')
by = {(r["label"], r["n"]): r for r in rows}
for ref in ("nginx-hls", "nginx-hls8", "nginx"):
    common = [n for (l, n) in by if l == "openivs" and (ref, n) in by and by[("openivs", n)]["held"] == n and by[(ref, n)]["held"] == n]
    if common:
        n = max(common)
        o, g = by[("openivs", n)], by[(ref, n)]
        cpu = o["target_cpu_pct"] / g["target_cpu_pct"] if g["target_cpu_pct"] else float("nan")
        og, gg = o["target_rss_mb"] - o["target_rss_idle_mb"], g["target_rss_mb"] - g["target_rss_idle_mb"]
        om, gm = og + o.get("files_mb", 0), gg + g.get("files_mb", 0)
        print(f'- openivs / {ref} at N={n}: CPU {cpu:.2f}x, RSS {o["target_rss_mb"] / g["target_rss_mb"]:.2f}x '
              f'(per-stream RSS above idle {og / gg if gg > 0 else float("nan"):.2f}x; '
              f'with the files of its window {om / gm if gm > 0 else float("nan"):.2f}x: {om / n:.2f} against {gm / n:.2f} MB per stream)')
        if o.get("cgroup_mb") and g.get("cgroup_mb"):
            oc, gc = (o["cgroup_mb"] - o.get("cgroup_idle_mb", 0)) / n, (g["cgroup_mb"] - g.get("cgroup_idle_mb", 0)) / n
            print(f'  memory charged to its cgroup above idle: {oc:.2f} against {gc:.2f} MB per stream ({oc / gc if gc > 0 else float("nan"):.2f}x)')
for n in sorted({n for (l, n) in by if l == "openivs-rec" and ("openivs", n) in by}):
    o, c = by[("openivs", n)], by[("openivs-rec", n)]
    held = "" if o["held"] == n and c["held"] == n else f' (**not all held**: {o["held"]} and {c["held"]} of {n})'
    dcpu = c["target_cpu_pct"] - o["target_cpu_pct"]
    drss = c["target_rss_mb"] - o["target_rss_mb"]
    drss_idle = (c["target_rss_mb"] - c["target_rss_idle_mb"]) - (o["target_rss_mb"] - o["target_rss_idle_mb"])
    print(f'- recording, openivs-rec − openivs at N={n}: CPU {dcpu:+.1f}% of one core ({dcpu / n:+.3f}% per recorded channel; '
          f'ffmpeg {c.get("target_children_cpu_pct", 0):.1f}% of it), RSS {drss:+.1f} MB ({drss / n:+.3f} MB per channel; '
          f'above idle {drss_idle / n:+.3f}); versitygw {c.get("aux_cpu_pct", 0):.1f}% of one core, {c.get("aux_rss_mb", 0):.0f} MB RSS{held}')
for r in rows:
    rec = r.get("recording")
    if rec:
        print(f'- {r["label"]} N={r["n"]} recordings: {rec["recordings"]} ({rec["ended"]} ended, {rec["failed"]} failed), '
              f'{rec["recorded_s"]:.0f} s recorded of {rec["published_s"]:.0f} s published (worst {rec["min_ratio"]:.3f} of its stream), '
              f'{rec["segments"]} segments ({rec["segments_expected"]} expected), {rec["thumbnails"]} thumbnails '
              f'({rec["thumbnails_expected"]} expected), MPEG-TS {rec["ts_kbps"]:.0f} kbit/s')
for r in skewed:
    print(f'- made again: {r["label"]} N={r["n"]} held {r["held"]} while other processes used {r["other_cpu_pct"]:.0f}% of one core')
for r in rows:
    if r["other_cpu_pct"] > skew_max:
        print(f'- **WARNING: other processes used {r["other_cpu_pct"]:.0f}% of one core during {r["label"]} N={r["n"]}**')
print("- CPU % = % of ONE core over the measuring window (200 = both cores of this machine); ingestload shares the cores.")
print("  A server's CPU includes the children it reaped in the window (openivs's ffmpeg thumbnails); versitygw's is apart.")
print("- RSS per stream = (average RSS in the window - RSS before the first publisher) / N. files: what nginx-rtmp's")
print("  fragments and playlists hold (page cache), sampled with the RSS; RSS + files per stream adds them: the memory each keeps its window in. cgroup: what the kernel")
print("  charges to the target's own memory cgroup (anonymous and shared memory, page cache of its files, kernel memory);")
print("  per stream = (average in the window - before the first publisher) / N.")
print("- late frames: written more than the threshold after their due time; streams behind: the server had more than the")
print("  threshold of a stream's media unread (socket queues) at some 500 ms sample. Held = connected, never failed, neither.")
EOF
