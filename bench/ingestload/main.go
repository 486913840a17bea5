// Command ingestload publishes N live streams over RTMP at real-time rate and tells how many the server held.
//
// It reads a pre-encoded FLV file (H.264 + AAC) into memory once, then opens N publishers with the gortmplib
// client, one every ramp/N, each to the URL of its stream key, and sends the file's frames at the pace of their
// timestamps, looping with continuous timestamps. Per stream it measures how late each frame was written (a
// frame not written within -late of its due time is late) and, every 500 ms, how much of the stream the server
// has been offered but not yet read (its socket's receive queue plus the publisher's send queue, in seconds of
// the file's bitrate). A stream is held when it connected, never failed, had no late frame and never had more
// than -late of backlog. With -target-pid it also reports the server's CPU and memory over the measuring window.
//
//	ingestload -url-template 'rtmp://127.0.0.1:1935/app/%s' -keys-file keys.txt -n 100 -d 30s -ramp 10s -target-pid 1234
//	ingestload -create-channels 200 -api-endpoint http://127.0.0.1:8080 -keys-file keys.txt
//	ingestload -create-channels 100 -recording-bucket vods -api-endpoint http://127.0.0.1:8080 -keys-file keys.txt   # recorded channels
//
// Exit status: 0 every stream held, 1 some did not, 2 the run could not be made (flags, input, no target).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/openivs/openivs/bench/internal/procstat"
)

type options struct {
	urlTemplate  string
	keysFile     string
	keyPrefix    string
	n            int
	dur          time.Duration
	ramp         time.Duration
	settle       time.Duration
	flvPath      string
	targetPIDs   []int
	auxPIDs      []int
	filesDir     string
	cgroup       string
	late         time.Duration
	connTimeout  time.Duration
	writeTimeout time.Duration
	label        string
	json         bool
	cpuProfile   string
	ackWindow    uint64
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	var pids, auxPIDs string
	var sp channelsSpec
	fs := flag.NewFlagSet("ingestload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.urlTemplate, "url-template", "rtmp://127.0.0.1:1935/app/%s", "publish URL; %s is replaced by the stream key")
	fs.StringVar(&o.keysFile, "keys-file", "", "file of stream keys, one a line (stream i uses line i); with -create-channels, written")
	fs.StringVar(&o.keyPrefix, "keys", "bench-", "without -keys-file: stream i's key is this prefix and i (bench-0000, ...)")
	fs.IntVar(&o.n, "n", 10, "streams to publish")
	fs.DurationVar(&o.dur, "d", 30*time.Second, "measuring window, after the ramp and -settle")
	fs.DurationVar(&o.ramp, "ramp", 10*time.Second, "stream starts are spread evenly over this span")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait this long after the last start before measuring")
	fs.StringVar(&o.flvPath, "flv", ".cache/bench-720p30.flv", "input: an FLV file with H.264 video and AAC audio")
	fs.StringVar(&pids, "target-pid", "", "server process(es) to measure, comma-separated (CPU and RSS are summed; CPU includes the children each has waited for, e.g. short-lived helpers)")
	fs.StringVar(&auxPIDs, "aux-pid", "", "processes the target depends on (e.g. the S3 server it records to), comma-separated: measured like -target-pid but reported apart, and not counted as other processes")
	fs.StringVar(&o.filesDir, "files-dir", "", "a directory where the target keeps media in files (nginx-rtmp's hls_path): the bytes its files hold are sampled with RSS, "+
		"since that media lives in memory too (the page cache) and is what the target's viewers are served from")
	fs.StringVar(&o.cgroup, "cgroup", "", "the memory cgroup directory the target runs in alone: the memory the kernel charges to it (usage_in_bytes, or memory.current "+
		"with cgroup v2: its anonymous memory, page cache and kernel memory) is sampled with RSS, before the first publisher and in the window")
	fs.DurationVar(&o.late, "late", 500*time.Millisecond, "a frame written later than this after its due time is late; a backlog longer than this is a stream behind")
	fs.DurationVar(&o.connTimeout, "connect-timeout", 10*time.Second, "RTMP handshake, connect and publish timeout")
	fs.DurationVar(&o.writeTimeout, "write-timeout", 10*time.Second, "a write blocked this long fails the stream")
	fs.StringVar(&o.label, "label", "", "name of the target, copied into the output")
	fs.Uint64Var(&o.ackWindow, "ack-window", 1<<32-1, "after connecting, ask the server to acknowledge every this many bytes (RTMP Window Acknowledgement Size); "+
		"the default asks for no acknowledgement in practice, like OBS (librtmp) and ffmpeg; 0 keeps the 2,500,000 the gortmplib client asks for at connect")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write this tool's own CPU profile to this file")
	fs.BoolVar(&o.json, "json", false, "print one JSON line on stdout (the human report goes to stderr)")
	fs.IntVar(&sp.n, "create-channels", 0, "instead of publishing: create this many channels through the IVS API and write their stream keys to -keys-file")
	fs.StringVar(&sp.endpoint, "api-endpoint", "http://127.0.0.1:8080", "IVS API endpoint for -create-channels")
	fs.StringVar(&sp.region, "region", "us-east-1", "region for -create-channels")
	fs.StringVar(&sp.accessKey, "access-key", "test", "access key for -create-channels")
	fs.StringVar(&sp.secretKey, "secret-key", "test", "secret key for -create-channels")
	fs.StringVar(&sp.prefix, "channel-name-prefix", "ingestload-", "channel names of -create-channels")
	fs.StringVar(&sp.channelType, "channel-type", "", "type of the channels -create-channels creates (BASIC, STANDARD, ADVANCED_SD, ADVANCED_HD); "+
		"default: the API's (STANDARD, which openivs transcodes into a ladder)")
	fs.StringVar(&sp.recordingBucket, "recording-bucket", "", "with -create-channels: first create a recording configuration (IVS's defaults: thumbnails every 60 s) "+
		"to this S3 bucket, wait until it is ACTIVE, and create every channel with it")
	fs.DurationVar(&sp.recordingReady, "recording-ready-timeout", time.Minute, "with -recording-bucket: how long the configuration may stay CREATING")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ingestload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if sp.n > 0 {
		if o.keysFile == "" {
			fmt.Fprintln(stderr, "ingestload: -create-channels needs -keys-file")
			return 2
		}
		sp.path = o.keysFile
		sp.log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
		t0 := time.Now()
		if err := createChannels(sp); err != nil {
			fmt.Fprintf(stderr, "ingestload: creating channels: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "created %d channels in %v, stream keys in %s\n", sp.n, time.Since(t0).Round(time.Millisecond), o.keysFile)
		return 0
	}
	var err error
	if o.targetPIDs, err = parsePIDs("-target-pid", pids); err == nil {
		o.auxPIDs, err = parsePIDs("-aux-pid", auxPIDs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ingestload: %v\n", err)
		return 2
	}
	if o.ackWindow > 1<<32-1 {
		fmt.Fprintln(stderr, "ingestload: -ack-window is a 32-bit value")
		return 2
	}
	if o.n <= 0 || o.dur <= 0 || o.ramp < 0 || o.settle < 0 || o.late <= 0 {
		fmt.Fprintln(stderr, "ingestload: -n, -d and -late must be positive, -ramp and -settle not negative")
		return 2
	}
	keys, err := streamKeys(o)
	if err != nil {
		fmt.Fprintf(stderr, "ingestload: %v\n", err)
		return 2
	}
	urls := make([]*url.URL, o.n)
	for i, k := range keys {
		if urls[i], err = publishURL(o.urlTemplate, k); err != nil {
			fmt.Fprintf(stderr, "ingestload: %v\n", err)
			return 2
		}
	}
	port, err := strconv.Atoi(urls[0].Port())
	if err != nil {
		port = 1935
	}
	m, err := readFLV(o.flvPath)
	if err != nil {
		fmt.Fprintf(stderr, "ingestload: %s: %v\n", o.flvPath, err)
		return 2
	}
	fmt.Fprintf(stderr, "input %s: %v, %d video + %d audio frames, %.0f kbit/s, largest frame %d KB\n",
		o.flvPath, m.loop.Round(time.Millisecond), m.videoCount, m.audioCount, m.bytesPerSecond()*8/1000, m.maxFrame>>10)
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "ingestload: %v\n", err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	debug.SetGCPercent(400) // frames are marshalled into fresh buffers; trade memory for the tool's CPU
	r := measure(o, m, urls, port)
	r.print(stderr)
	if o.json {
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
	} else if stdout != stderr {
		fmt.Fprintf(stdout, "%s: %d/%d streams held\n", r.Label, r.Held, r.N)
	}
	if r.Held < r.N {
		return 1
	}
	return 0
}

// parsePIDs parses a comma-separated list of running processes.
func parsePIDs(flagName, list string) ([]int, error) {
	var pids []int
	for p := range strings.SplitSeq(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("bad %s %q", flagName, p)
		}
		if _, ok := procstat.CPU(pid); !ok {
			return nil, fmt.Errorf("%s %d: no such process", flagName, pid)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func streamKeys(o options) ([]string, error) {
	if o.keysFile == "" {
		keys := make([]string, o.n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s%04d", o.keyPrefix, i)
		}
		return keys, nil
	}
	b, err := os.ReadFile(o.keysFile)
	if err != nil {
		return nil, err
	}
	var keys []string
	for line := range strings.Lines(string(b)) {
		if k := strings.TrimSpace(line); k != "" && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	if len(keys) < o.n {
		return nil, fmt.Errorf("%s has %d stream keys, -n asks for %d", o.keysFile, len(keys), o.n)
	}
	return keys[:o.n], nil
}

// publishURL fills the template and moves the last path segment (the stream key) into the fragment, where the
// gortmplib client takes the stream name from: rtmp://host/app/KEY connects to app "app" and publishes "KEY".
func publishURL(tmpl, key string) (*url.URL, error) {
	u, err := url.Parse(fmt.Sprintf(tmpl, key))
	if err != nil {
		return nil, fmt.Errorf("URL for key %d chars long: %w", len(key), err)
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmps" {
		return nil, fmt.Errorf("-url-template: scheme %q, want rtmp or rtmps", u.Scheme)
	}
	i := strings.LastIndexByte(u.Path, '/')
	if i <= 0 || i == len(u.Path)-1 {
		return nil, errors.New("-url-template must end in /<app>/%s")
	}
	u.Path, u.Fragment = u.Path[:i], u.Path[i+1:]
	u.RawPath = ""
	return u, nil
}

// stream is one publisher's state and counters.
type stream struct {
	port atomic.Int32 // the publisher's local TCP port while it is connected, for the backlog sampler

	// Written by the publisher goroutine, read after it ended.
	connected  bool
	err        error // why it failed (connect or write), nil if it ran to the end
	failedAt   time.Time
	frames     int64
	late       int64 // frames written more than -late after their due time
	lateWindow int64 // of them, frames due inside the measuring window
	schedLate  int64 // frames this tool woke up more than -late after their due time (its own CPU starvation)
	maxLag     time.Duration

	// Written by the sampler only.
	maxBacklog float64 // seconds of media offered but not read by the server
}

func publish(ctx context.Context, s *stream, u *url.URL, m *media, start, stop, winStart time.Time, o options) {
	if d := time.Until(start); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	fail := func(err error) {
		s.err, s.failedAt = err, time.Now()
	}
	cctx, cancel := context.WithTimeout(ctx, o.connTimeout)
	c := &gortmplib.Client{URL: u, Publish: true, TLSConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // self-signed bench servers
	err := c.Initialize(cctx)
	if err != nil {
		cancel()
		fail(fmt.Errorf("connect: %w", err))
		return
	}
	nc := c.NetConn()
	stopClose := context.AfterFunc(ctx, func() { nc.Close() })
	defer stopClose()
	defer c.Close()
	nc.SetDeadline(time.Now().Add(o.connTimeout))
	if o.ackWindow > 0 {
		if err := c.Write(&message.SetWindowAckSize{Value: uint32(o.ackWindow)}); err != nil {
			cancel()
			fail(fmt.Errorf("window acknowledgement size: %w", err))
			return
		}
	}
	video := &gortmplib.Track{Codec: &codecs.H264{SPS: m.sps, PPS: m.pps}}
	tracks := []*gortmplib.Track{video}
	if m.aac != nil {
		tracks = append(tracks, &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: m.aac}})
	}
	w := &gortmplib.Writer{Conn: c, Tracks: tracks}
	err = w.Initialize()
	cancel()
	if err != nil {
		fail(fmt.Errorf("sending the track headers: %w", err))
		return
	}
	s.connected = true
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		s.port.Store(int32(a.Port))
		defer s.port.Store(0)
	}

	vmsg := &message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000,
		Codec: message.CodecH264, Type: message.VideoTypeAU}
	amsg := &message.Audio{ChunkStreamID: message.AudioChunkStreamID, MessageStreamID: 0x1000000,
		Codec: message.CodecMPEG4Audio, Rate: message.AudioRate44100, Depth: message.AudioDepth16, IsStereo: true,
		AACType: message.AudioAACTypeAU}
	base := time.Now()
	var deadline time.Time
	for loop := 0; ; loop++ {
		offset := time.Duration(loop) * m.loop
		for i := range m.frames {
			f := &m.frames[i]
			dts := offset + f.dts
			due := base.Add(dts)
			if due.After(stop) {
				return
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
				if time.Since(due) > o.late {
					s.schedLate++
				}
			}
			if ctx.Err() != nil {
				return
			}
			if now := time.Now(); now.Add(o.writeTimeout - time.Second).After(deadline) {
				deadline = now.Add(o.writeTimeout)
				nc.SetDeadline(deadline)
			}
			var msg message.Message
			if f.video {
				vmsg.DTS, vmsg.PTSDelta, vmsg.IsKeyFrame, vmsg.AU = dts, f.ptsDelta, f.key, f.payload
				msg = vmsg
			} else {
				amsg.DTS, amsg.AU = dts, f.payload
				msg = amsg
			}
			if err := c.Write(msg); err != nil {
				if ctx.Err() == nil {
					fail(fmt.Errorf("write: %w", err))
				}
				return
			}
			s.frames++
			lag := time.Since(due)
			s.maxLag = max(s.maxLag, lag)
			if lag > o.late {
				s.late++
				if !due.Before(winStart) {
					s.lateWindow++
				}
			}
		}
	}
}

// result is what a run prints; JSON field names are the script's interface.
type result struct {
	Label          string  `json:"label"`
	N              int     `json:"n"`
	Held           int     `json:"held"`
	ConnectFailed  int     `json:"connect_failed"`
	Disconnected   int     `json:"disconnected"`
	LateStreams    int     `json:"late_streams"`
	LateFrames     int64   `json:"late_frames"`
	LateWindow     int64   `json:"late_frames_window"`
	SchedLate      int64   `json:"sched_late_frames"`
	BehindStreams  int     `json:"behind_streams"`
	MaxLagMS       float64 `json:"max_lag_ms"`
	MaxBacklogS    float64 `json:"max_backlog_s"`
	Frames         int64   `json:"frames"`
	InputKbps      float64 `json:"input_kbps"`
	WindowS        float64 `json:"window_s"`
	RampS          float64 `json:"ramp_s"`
	LateMS         float64 `json:"late_threshold_ms"`
	TargetCPU      float64 `json:"target_cpu_pct"`          // % of one core, the children it waited for included
	TargetChildCPU float64 `json:"target_children_cpu_pct"` // of it, the children's
	TargetRSSMB    float64 `json:"target_rss_mb"`           // average over the window
	TargetRSSMaxMB float64 `json:"target_rss_max_mb"`
	TargetIdleMB   float64 `json:"target_rss_idle_mb"` // before the first publisher connected
	TargetDied     bool    `json:"target_died"`
	AuxCPU         float64 `json:"aux_cpu_pct,omitempty"` // -aux-pid: % of one core
	AuxRSSMB       float64 `json:"aux_rss_mb,omitempty"`  // average over the window
	// the bytes of -files-dir
	// what the kernel charges to -cgroup, in the window and before the first publisher
	CgroupMB     float64  `json:"cgroup_mb,omitempty"`
	CgroupIdleMB float64  `json:"cgroup_idle_mb,omitempty"`
	FilesMB      float64  `json:"files_mb,omitempty"`
	SelfCPU      float64  `json:"load_cpu_pct"`  // % of one core
	OtherCPU     float64  `json:"other_cpu_pct"` // % of one core: everything else on the machine
	Cores        int      `json:"cores"`
	LoadAvgStart string   `json:"loadavg_start"` // /proc/loadavg at the window's edges
	LoadAvgEnd   string   `json:"loadavg_end"`
	Errors       []string `json:"errors,omitempty"`
}

func measure(o options, m *media, urls []*url.URL, port int) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]*stream, len(urls))
	for i := range streams {
		streams[i] = &stream{}
	}
	idleRSS := targetRSS(o.targetPIDs)
	idleCgroup := cgroupBytes(o.cgroup)
	t0 := time.Now().Add(100 * time.Millisecond)
	winStart := t0.Add(o.ramp + o.settle)
	stop := winStart.Add(o.dur)
	var wg sync.WaitGroup
	for i, s := range streams {
		start := t0
		if len(streams) > 1 {
			start = t0.Add(o.ramp * time.Duration(i) / time.Duration(len(streams)))
		}
		wg.Go(func() { publish(ctx, s, urls[i], m, start, stop, winStart, o) })
	}

	// Sampler: backlog every 500 ms for the whole run, CPU at the window's edges, RSS every second in it.
	rate := m.bytesPerSecond()
	var cpu0, cpu1, aux0, aux1 cpuTimes // the target's and -aux-pid's
	var busy0, busy1, self0, self1 time.Duration
	var at0, at1 time.Time
	var load0, load1 string
	var rssSum, rssMax, auxRSSSum, filesSum, cgSum int64
	var rssN int
	died := false
	sample := func() {
		rx, tx := tcpQueues(port)
		for _, s := range streams {
			if p := int(s.port.Load()); p > 0 {
				s.maxBacklog = max(s.maxBacklog, float64(rx[p]+tx[p])/rate)
			}
		}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	inWindow, ticks := false, 0
	for now := range tick.C {
		sample()
		if len(o.targetPIDs) > 0 && !alive(o.targetPIDs) && !died {
			died = true
			fmt.Fprintln(os.Stderr, "ingestload: !!! the target process is gone")
		}
		if !inWindow && !now.Before(winStart) {
			inWindow = true
			at0, cpu0, aux0, busy0, self0 = time.Now(), sampleCPU(o.targetPIDs), sampleCPU(o.auxPIDs), busyCPU(), procstat.SelfCPU()
			load0 = procstat.LoadAvg()
		}
		if inWindow {
			if ticks++; ticks%2 == 0 && !died {
				v := targetRSS(o.targetPIDs)
				rssSum += v
				rssMax = max(rssMax, v)
				auxRSSSum += targetRSS(o.auxPIDs)
				cgSum += cgroupBytes(o.cgroup)
				if o.filesDir != "" {
					filesSum += dirBytes(o.filesDir)
				}
				rssN++
			}
		}
		if !now.Before(stop) {
			at1, cpu1, aux1, busy1, self1 = time.Now(), sampleCPU(o.targetPIDs), sampleCPU(o.auxPIDs), busyCPU(), procstat.SelfCPU()
			load1 = procstat.LoadAvg()
			break
		}
	}
	tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.writeTimeout + 2*time.Second):
		cancel() // unblock writers stuck on a server that stopped reading
		<-done
	}

	r := result{Label: o.label, N: len(streams), InputKbps: rate * 8 / 1000, RampS: o.ramp.Seconds(),
		LateMS: float64(o.late) / float64(time.Millisecond), Cores: runtime.NumCPU(), TargetDied: died,
		LoadAvgStart: load0, LoadAvgEnd: load1}
	if !at0.IsZero() && at1.After(at0) {
		wall := at1.Sub(at0)
		r.WindowS = wall.Seconds()
		pct := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() }
		r.TargetCPU = pct(cpu1.total() - cpu0.total())
		r.TargetChildCPU = pct(cpu1.children - cpu0.children)
		r.AuxCPU = pct(aux1.total() - aux0.total())
		r.SelfCPU = pct(self1 - self0)
		r.OtherCPU = max(0, pct(busy1-busy0)-r.TargetCPU-r.AuxCPU-r.SelfCPU)
	}
	if rssN > 0 {
		r.TargetRSSMB = float64(rssSum) / float64(rssN) / (1 << 20)
		r.TargetRSSMaxMB = float64(rssMax) / (1 << 20)
		r.AuxRSSMB = float64(auxRSSSum) / float64(rssN) / (1 << 20)
		r.FilesMB = float64(filesSum) / float64(rssN) / (1 << 20)
		r.CgroupMB = float64(cgSum) / float64(rssN) / (1 << 20)
	}
	r.TargetIdleMB = float64(idleRSS) / (1 << 20)
	r.CgroupIdleMB = float64(idleCgroup) / (1 << 20)
	errCount := map[string]int{}
	for _, s := range streams {
		r.Frames += s.frames
		r.LateFrames += s.late
		r.LateWindow += s.lateWindow
		r.SchedLate += s.schedLate
		r.MaxLagMS = max(r.MaxLagMS, float64(s.maxLag)/float64(time.Millisecond))
		r.MaxBacklogS = max(r.MaxBacklogS, s.maxBacklog)
		behind := s.maxBacklog > o.late.Seconds()
		if behind {
			r.BehindStreams++
		}
		if s.late > 0 {
			r.LateStreams++
		}
		switch {
		case !s.connected:
			r.ConnectFailed++
		case s.err != nil:
			r.Disconnected++
		}
		if s.err != nil {
			errCount[shortErr(s.err)]++
		}
		if s.connected && s.err == nil && s.late == 0 && !behind {
			r.Held++
		}
	}
	for e, n := range errCount {
		r.Errors = append(r.Errors, fmt.Sprintf("%d× %s", n, e))
	}
	slices.Sort(r.Errors)
	return r
}

// shortErr drops the per-connection addresses from an error so that equal failures group.
func shortErr(err error) string {
	s := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		prefix, _, _ := strings.Cut(s, ":")
		s = prefix + ": " + op.Err.Error()
	}
	return s
}

// cpuTimes is the CPU time processes have used: their own, and that of the children they have waited for.
type cpuTimes struct{ self, children time.Duration }

func (c cpuTimes) total() time.Duration { return c.self + c.children }

// sampleCPU sums the CPU times of processes. Children count once reaped: openivs's ffmpeg runs (thumbnails of
// recordings) are its cost; nginx's master reaps no worker while it runs.
func sampleCPU(pids []int) cpuTimes {
	var t cpuTimes
	for _, p := range pids {
		self, children, _ := procstat.CPUTimes(p)
		t.self += self
		t.children += children
	}
	return t
}

func targetRSS(pids []int) int64 {
	var t int64
	for _, p := range pids {
		v, _ := procstat.RSS(p)
		t += v
	}
	return t
}

// cgroupBytes is the memory charged to a cgroup (v1 memory.usage_in_bytes or v2 memory.current); 0 without one.
func cgroupBytes(dir string) int64 {
	if dir == "" {
		return 0
	}
	for _, f := range []string{"memory.current", "memory.usage_in_bytes"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return v
		}
	}
	return 0
}

// dirBytes is what the regular files under dir hold (allocated blocks).
func dirBytes(dir string) int64 {
	var t int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				t += st.Blocks * 512
			} else {
				t += info.Size()
			}
		}
		return nil
	})
	return t
}

func alive(pids []int) bool {
	for _, p := range pids {
		if _, ok := procstat.CPU(p); !ok {
			return false
		}
	}
	return true
}

func busyCPU() time.Duration {
	v, _ := procstat.MachineBusy()
	return v
}

func (r result) print(w io.Writer) {
	label := r.Label
	if label == "" {
		label = "target"
	}
	fmt.Fprintf(w, "%s: N=%d  held %d  (connect failures %d, disconnected %d, streams with late frames %d, streams behind %d)\n",
		label, r.N, r.Held, r.ConnectFailed, r.Disconnected, r.LateStreams, r.BehindStreams)
	fmt.Fprintf(w, "  frames %d, late %d (in window %d, of which this tool woke late %d), max lag %.0f ms, max server backlog %.2f s (threshold %.0f ms)\n",
		r.Frames, r.LateFrames, r.LateWindow, r.SchedLate, r.MaxLagMS, r.MaxBacklogS, r.LateMS)
	fmt.Fprintf(w, "  window %.1f s: target CPU %.1f%% of one core (its children %.1f%%), RSS %.1f MB avg (max %.1f, idle %.1f); ingestload CPU %.1f%%; other %.1f%% (of one core; %d cores)\n",
		r.WindowS, r.TargetCPU, r.TargetChildCPU, r.TargetRSSMB, r.TargetRSSMaxMB, r.TargetIdleMB, r.SelfCPU, r.OtherCPU, r.Cores)
	fmt.Fprintf(w, "  load average %s → %s\n", r.LoadAvgStart, r.LoadAvgEnd)
	if r.AuxCPU > 0 || r.AuxRSSMB > 0 {
		fmt.Fprintf(w, "  -aux-pid: CPU %.1f%% of one core, RSS %.1f MB avg (not in target, not in other)\n", r.AuxCPU, r.AuxRSSMB)
	}
	if r.TargetDied {
		fmt.Fprintln(w, "  !!! the target process died during the run")
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}
