// Command hlsload simulates N viewers of one live HLS stream and measures how fast every part reaches every
// viewer.
//
// Each viewer has one HTTP/1.1 keep-alive connection of its own and makes one request at a time; the viewers are
// state machines driven by one epoll loop (-loops, one thread each; see loop.go for why). It GETs the playback URL (a
// multivariant playlist opens a viewer session of its own; its first variant is followed), then the media
// playlist, then loops:
//
//   - LL-HLS (the playlist has CAN-BLOCK-RELOAD=YES and EXT-X-PART-INF; the default when it has): a blocking
//     playlist reload for the next part (_HLS_msn/_HLS_part of the playlist's preload hint, i.e. the part after the
//     last one listed; _HLS_skip=YES when the server offers delta updates, as hls.js asks), then a GET of every part
//     listed that it has not fetched yet, in order, on the same connection.
//   - plain HLS (-plain, or a playlist without blocking reload): the playlist every half target duration (phases
//     spread at random), then a GET of every new segment.
//
// A part's (segment's) publication is the earliest time any viewer received a playlist listing it; its delay for
// a viewer is the time that viewer finished reading its body minus the publication. Only what is published inside
// the measuring window counts: every viewer is expected to receive every such part, and a part it did not receive
// (an error, a 404, a part that left the playlist before the viewer got to it, or not within -grace after the
// window) is missed. The report gives the delay percentiles, the share of (viewer, part) pairs received within
// -within (1 s; misses count as not within), and, from EXT-X-PROGRAM-DATE-TIME when the playlist carries it, how
// long after the end of its media each part was first listed (the server's own packaging and wake-up delay, which
// the publication-relative delay does not see: if the server is slow for everyone, it is slow for the first viewer
// too).
//
//	hlsload -url http://127.0.0.1:8080/api/video/v1/us-west-2.123456789012.channel.abc.m3u8 -n 1000 -d 30s -target-pid 1234
//	hlsload -url http://127.0.0.1:8081/hls/key.m3u8 -plain -n 1000 -target-pid 1235,1236
//
// Exit status: 0 when at least -pass of the (viewer, part) pairs arrived within -within, 1 when not, 2 when the
// run could not be made. Linux only (epoll).
//
//go:build linux

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openivs/openivs/bench/internal/procstat"
)

type options struct {
	url        string
	n          int
	ramp       time.Duration
	settle     time.Duration
	dur        time.Duration
	grace      time.Duration
	within     time.Duration
	pass       float64
	plain      bool
	skip       bool
	timeout    time.Duration
	targetPIDs []int
	label      string
	json       bool
	cpuProfile string
	loops      int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	var pids string
	fs := flag.NewFlagSet("hlsload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "playback URL: a multivariant playlist (each viewer opens its own session) or a media playlist")
	fs.IntVar(&o.n, "n", 100, "viewers")
	fs.DurationVar(&o.ramp, "ramp", 10*time.Second, "viewer starts are spread evenly over this span")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait this long after the last start before measuring")
	fs.DurationVar(&o.dur, "d", 30*time.Second, "measuring window: parts published inside it are counted")
	fs.DurationVar(&o.grace, "grace", 3*time.Second, "after the window, keep receiving this long (a part received later is missed)")
	fs.DurationVar(&o.within, "within", time.Second, "the delay a part must arrive within")
	fs.Float64Var(&o.pass, "pass", 0.99, "exit 0 when at least this share of (viewer, part) pairs arrived within -within")
	fs.BoolVar(&o.plain, "plain", false, "plain HLS: poll the playlist every half target duration and fetch whole segments, even if the server offers LL-HLS")
	fs.BoolVar(&o.skip, "skip", true, "LL-HLS: ask for delta updates (_HLS_skip=YES) when the server offers them")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per request (connect, then the whole response)")
	fs.StringVar(&pids, "target-pid", "", "server process(es) to measure, comma-separated (CPU and RSS are summed)")
	fs.StringVar(&o.label, "label", "", "name of the target, copied into the output")
	fs.BoolVar(&o.json, "json", false, "print one JSON line on stdout (the human report goes to stderr)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write this tool's own CPU profile to this file")
	fs.IntVar(&o.loops, "loops", 1, "event loops (threads) driving the viewers; the tool also sets GOMAXPROCS to this plus one unless the environment sets it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hlsload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintln(stderr, "hlsload: -url must be an http:// URL")
		return 2
	}
	for p := range strings.SplitSeq(pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			fmt.Fprintf(stderr, "hlsload: bad -target-pid %q\n", p)
			return 2
		}
		if _, ok := procstat.CPU(pid); !ok {
			fmt.Fprintf(stderr, "hlsload: -target-pid %d: no such process\n", pid)
			return 2
		}
		o.targetPIDs = append(o.targetPIDs, pid)
	}
	if o.loops <= 0 {
		fmt.Fprintln(stderr, "hlsload: -loops must be positive")
		return 2
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One P per loop, and a spare one for the measuring goroutine and the runtime. With no spare P the runtime's
		// monitor thread (sysmon) kept waking: 12 % of the tool's CPU in perf, 6.6 % with the spare P, and each
		// request cost the tool 7 % less CPU with it (5,000 viewers on the 2-core machine of bench/README.md, three
		// interleaved pairs, 2026-11-23). The spare P is idle when nothing but the loops runs.
		runtime.GOMAXPROCS(o.loops + 1)
	}
	if o.n <= 0 || o.dur <= 0 || o.ramp < 0 || o.settle < 0 || o.grace < 0 || o.within <= 0 {
		fmt.Fprintln(stderr, "hlsload: -n, -d and -within must be positive, -ramp, -settle and -grace not negative")
		return 2
	}
	raiseFileLimit(stderr, o.n)
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "hlsload: %v\n", err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	debug.SetGCPercent(400) // trade the tool's memory for its CPU
	host := u.Host
	addr := host
	if u.Port() == "" {
		addr += ":80"
	}
	path := u.RequestURI()
	// One viewer first: the stream must be playing before N viewers are let loose.
	if err := probe(o, addr, host, path); err != nil {
		fmt.Fprintf(stderr, "hlsload: %s: %v (is the stream live?)\n", o.url, err)
		return 2
	}
	r, err := measure(o, addr, host, path)
	if err != nil {
		fmt.Fprintf(stderr, "hlsload: %v\n", err)
		return 2
	}
	r.print(stderr)
	if o.json {
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
	}
	if r.Within < o.pass {
		return 1
	}
	return 0
}

// raiseFileLimit lifts the soft limit on open files to the hard one: each viewer holds a socket.
func raiseFileLimit(stderr io.Writer, n int) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	if l.Cur < uint64(n)+64 {
		fmt.Fprintf(stderr, "hlsload: warning: open files are limited to %d, fewer than the %d viewers need (ulimit -n)\n", l.Cur, n+64)
	}
}

// result is what a run measured.
type result struct {
	Label   string  `json:"label"`
	Mode    string  `json:"mode"` // "ll-hls" or "hls"
	N       int     `json:"n"`
	Joined  int     `json:"joined"`  // viewers that loaded the stream
	Playing int     `json:"playing"` // viewers that received at least one part in the window and were still running at its end
	AllIn   int     `json:"all_within"`
	Window  float64 `json:"window_s"`
	// Parts (segments) published in the window, pairs expected (viewers joined × parts), received, missed.
	Parts    int   `json:"parts"`
	Expected int64 `json:"expected"`
	Received int64 `json:"received"`
	Missed   int64 `json:"missed"`
	// Delay from publication to receipt, over the received pairs, in milliseconds.
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p999_ms"`
	Max    float64 `json:"max_ms"`
	Mean   float64 `json:"mean_ms"`
	Within float64 `json:"within"` // share of the expected pairs received within -within
	// First listing relative to the end of the part's media (EXT-X-PROGRAM-DATE-TIME), over the window's parts.
	ListLagKnown bool    `json:"list_lag_known"`
	ListLagP50   float64 `json:"list_lag_p50_ms"`
	ListLagP99   float64 `json:"list_lag_p99_ms"`
	ListLagMax   float64 `json:"list_lag_max_ms"`
	// Requests and errors over the whole run.
	Requests    int64             `json:"requests"`
	ReqPerSec   float64           `json:"req_per_s"`  // in the window
	Gbps        float64           `json:"gbit_per_s"` // bodies received, in the window
	Errors      int64             `json:"errors"`
	ErrorKinds  map[string]int64  `json:"error_kinds,omitempty"`
	ErrorSample map[string]string `json:"error_samples,omitempty"`
	Dials       int64             `json:"dials"`
	Joins       int64             `json:"sessions"`
	// CPU as a percentage of one core over the window; RSS in MB.
	TargetCPU     float64 `json:"target_cpu_pct"`
	TargetRSS     float64 `json:"target_rss_mb"`
	TargetRSSMax  float64 `json:"target_rss_max_mb"`
	TargetRSSIdle float64 `json:"target_rss_idle_mb"`
	TargetDied    bool    `json:"target_died"`
	LoadCPU       float64 `json:"load_cpu_pct"`
	LoadRSS       float64 `json:"load_rss_mb"`
	OtherCPU      float64 `json:"other_cpu_pct"`
	LoadAvgStart  string  `json:"loadavg_start"`
	LoadAvgEnd    string  `json:"loadavg_end"`
	Started       string  `json:"started"`
}

func sumCPU(pids []int) (time.Duration, bool) {
	var t time.Duration
	for _, p := range pids {
		c, ok := procstat.CPU(p)
		if !ok {
			return t, false
		}
		t += c
	}
	return t, true
}

func sumRSS(pids []int) (int64, bool) {
	var t int64
	for _, p := range pids {
		c, ok := procstat.RSS(p)
		if !ok {
			return t, false
		}
		t += c
	}
	return t, true
}

// probe joins the stream once (the playback URL and the media playlist it leads to).
func probe(o options, addr, host, path string) error {
	r := &runner{o: o, path: path, origin: time.Now()}
	l, err := newLoop(r, addr, host, o.timeout)
	if err != nil {
		return err
	}
	v := &viewer{r: r, probeOnly: true}
	l.add(v, r.origin)
	var never atomic.Bool
	l.run(&never) // until the viewer is done
	return v.joinErr
}

func measure(o options, addr, host, path string) (*result, error) {
	r := &runner{o: o, path: path, origin: time.Now()}
	r.pub.first = map[uint64]int64{}
	r.pub.end = map[uint64]int64{}
	res := &result{Label: o.label, N: o.n, Window: o.dur.Seconds(), LoadAvgStart: procstat.LoadAvg(), Started: time.Now().UTC().Format(time.RFC3339)}
	idle, _ := sumRSS(o.targetPIDs)
	res.TargetRSSIdle = float64(idle) / (1 << 20)

	loops := make([]*loop, o.loops)
	for i := range loops {
		l, err := newLoop(r, addr, host, o.timeout)
		if err != nil {
			return nil, err
		}
		loops[i] = l
	}
	viewers := make([]*viewer, o.n)
	start := r.origin
	for i := range viewers {
		v := &viewer{id: i, r: r}
		viewers[i] = v
		at := start
		if o.n > 1 {
			at = start.Add(o.ramp * time.Duration(i) / time.Duration(o.n-1))
		}
		loops[i%len(loops)].add(v, at)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(&stop)
		}()
	}
	winStart := start.Add(o.ramp + o.settle)
	winEnd := winStart.Add(o.dur)
	fmt.Fprintf(os.Stderr, "hlsload %s: %d viewers over %v, settle %v, window %v, grace %v (load average %s)\n",
		o.label, o.n, o.ramp, o.settle, o.dur, o.grace, res.LoadAvgStart)

	// RSS every second through the window; CPU at its edges.
	time.Sleep(time.Until(winStart))
	cpu0, _ := sumCPU(o.targetPIDs)
	self0 := procstat.SelfCPU()
	busy0, _ := procstat.MachineBusy()
	req0, bytes0 := r.reqs.Load(), r.bytes.Load()
	var rssSum, rssMax int64
	var rssN int
	for t := winStart; t.Before(winEnd); t = t.Add(time.Second) {
		time.Sleep(time.Until(t))
		if rss, ok := sumRSS(o.targetPIDs); ok {
			rssSum += rss
			rssMax = max(rssMax, rss)
			rssN++
		}
	}
	time.Sleep(time.Until(winEnd))
	cpu1, ok := sumCPU(o.targetPIDs)
	res.TargetDied = len(o.targetPIDs) > 0 && !ok
	self1 := procstat.SelfCPU()
	busy1, _ := procstat.MachineBusy()
	req1, bytes1 := r.reqs.Load(), r.bytes.Load()
	wall := o.dur
	res.ReqPerSec = float64(req1-req0) / wall.Seconds()
	res.Gbps = float64(bytes1-bytes0) * 8 / wall.Seconds() / 1e9
	if len(o.targetPIDs) > 0 {
		res.TargetCPU = 100 * float64(cpu1-cpu0) / float64(wall)
	}
	res.LoadCPU = 100 * float64(self1-self0) / float64(wall)
	res.OtherCPU = max(0, 100*float64(busy1-busy0)/float64(wall)-res.TargetCPU-res.LoadCPU)
	if rssN > 0 {
		res.TargetRSS = float64(rssSum) / float64(rssN) / (1 << 20)
		res.TargetRSSMax = float64(rssMax) / (1 << 20)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.LoadRSS = float64(ms.Sys) / (1 << 20)
	res.LoadAvgEnd = procstat.LoadAvg()

	time.Sleep(o.grace)
	stop.Store(true)
	wg.Wait()

	res.analyse(r, viewers, winStart.Sub(r.origin).Nanoseconds(), winEnd.Sub(r.origin).Nanoseconds(), winEnd.Add(o.grace).Sub(r.origin).Nanoseconds())
	return res, nil
}

func (res *result) analyse(r *runner, viewers []*viewer, ws, we, deadline int64) {
	o := r.o
	res.Mode = "hls"
	if r.ll.Load() {
		res.Mode = "ll-hls"
	}
	// the window's parts
	inWin := map[uint64]int64{}
	var lags []float64
	for k, t := range r.pub.first {
		if t >= ws && t < we {
			inWin[k] = t
			if e, ok := r.pub.end[k]; ok {
				lags = append(lags, float64(t-e)/1e6)
			}
		}
	}
	res.Parts = len(inWin)
	var delays []float64
	within := o.within.Nanoseconds()
	var ok int64
	res.ErrorKinds, res.ErrorSample = map[string]int64{}, map[string]string{}
	for _, v := range viewers {

		res.Dials += int64(v.dials)
		res.Joins += int64(v.joins)
		for k, n := range v.errs {
			res.ErrorKinds[k] += n
			res.Errors += n
			res.ErrorSample[k] = v.lastErr[k]
		}
		if !v.joined {
			continue
		}
		res.Joined++
		res.Expected += int64(len(inWin))
		got, allIn := 0, true
		for _, g := range v.got {
			t, ok2 := inWin[g.key]
			if !ok2 || g.at > deadline {
				continue
			}
			d := g.at - t
			delays = append(delays, float64(d)/1e6)
			got++
			if d <= within {
				ok++
			} else {
				allIn = false
			}
		}
		res.Received += int64(got)
		if got > 0 && !v.ended {
			res.Playing++
		}
		if got == len(inWin) && allIn && len(inWin) > 0 {
			res.AllIn++
		}
	}
	res.Requests = r.reqs.Load()
	res.Missed = res.Expected - res.Received
	if res.Expected > 0 {
		res.Within = float64(ok) / float64(res.Expected)
	}
	sort.Float64s(delays)
	res.P50, res.P90, res.P99, res.P999 = pct(delays, 50), pct(delays, 90), pct(delays, 99), pct(delays, 99.9)
	if n := len(delays); n > 0 {
		res.Max = delays[n-1]
		var s float64
		for _, d := range delays {
			s += d
		}
		res.Mean = s / float64(n)
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		res.ListLagKnown = true
		res.ListLagP50, res.ListLagP99, res.ListLagMax = pct(lags, 50), pct(lags, 99), lags[len(lags)-1]
	}
	if len(res.ErrorKinds) == 0 {
		res.ErrorKinds, res.ErrorSample = nil, nil
	}
}

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (res *result) print(w io.Writer) {
	fmt.Fprintf(w, "%s (%s): %d viewers, %d joined, %d playing at the end of the window, %d received every part within the limit\n",
		res.Label, res.Mode, res.N, res.Joined, res.Playing, res.AllIn)
	fmt.Fprintf(w, "  window %.0f s: %d parts published, %d (viewer, part) pairs expected, %d received, %d missed\n",
		res.Window, res.Parts, res.Expected, res.Received, res.Missed)
	fmt.Fprintf(w, "  delay from publication: p50 %.0f ms, p90 %.0f, p99 %.0f, p99.9 %.0f, max %.0f, mean %.0f; within the limit: %.3f%%\n",
		res.P50, res.P90, res.P99, res.P999, res.Max, res.Mean, 100*res.Within)
	if res.ListLagKnown {
		fmt.Fprintf(w, "  first listed after the end of its media (program date-time): p50 %.0f ms, p99 %.0f, max %.0f\n",
			res.ListLagP50, res.ListLagP99, res.ListLagMax)
	}
	fmt.Fprintf(w, "  %d requests (%.0f/s), %.2f Gbit/s, %d connections opened, %d sessions, %d errors\n",
		res.Requests, res.ReqPerSec, res.Gbps, res.Dials, res.Joins, res.Errors)
	kinds := make([]string, 0, len(res.ErrorKinds))
	for k := range res.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "    %d × %s (e.g. %s)\n", res.ErrorKinds[k], k, res.ErrorSample[k])
	}
	fmt.Fprintf(w, "  CPU (%% of one core): server %.1f, hlsload %.1f, other %.1f; server RSS %.1f MB (max %.1f, idle %.1f); hlsload %.0f MB\n",
		res.TargetCPU, res.LoadCPU, res.OtherCPU, res.TargetRSS, res.TargetRSSMax, res.TargetRSSIdle, res.LoadRSS)
	fmt.Fprintf(w, "  load average: %s at the start, %s at the end of the window\n", res.LoadAvgStart, res.LoadAvgEnd)
	if res.TargetDied {
		fmt.Fprintln(w, "  !!! the server died during the run")
	}
}
