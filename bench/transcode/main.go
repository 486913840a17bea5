//go:build unix

// Command transcode measures internal/transcode: the CPU one transcoded channel costs (ffmpeg's rusage, as a
// share of one core), how fast the machine transcodes when unpaced (so how many channels it sustains in real time),
// and the latency the transcoder adds (source frame written to the Session, rung frame out), for x264 presets.
//
//	go run ./bench/transcode -presets superfast,veryfast,ultrafast -d 20s
//
// The source is generated once (or given with -src): 1080p30 testsrc2 with temporal noise, so the encoders work on
// detail that changes every frame, x264 at 6 Mbps, 2 s GOP, B-frames, 48 kHz stereo AAC; the ladder is
// STANDARD's for a 1080p30 input (720p30, 480p30, 360p30, 160p30; the source rung costs nothing).
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/mediatest"
	"github.com/openivs/openivs/internal/transcode"
)

func main() {
	ffmpeg := flag.String("ffmpeg", "ffmpeg", "ffmpeg binary")
	presets := flag.String("presets", "superfast,veryfast,ultrafast", "x264 presets to compare")
	dur := flag.Duration("d", 20*time.Second, "real-time run per preset")
	src := flag.String("src", "", "1080p30 H.264+AAC MPEG-TS source (default: generated)")
	ll := flag.Bool("ll", false, "low-latency channel (-tune zerolatency)")
	unpaced := flag.Bool("unpaced", true, "also measure unpaced throughput (speed x real time)")
	channels := flag.Int("channels", 1, "channels transcoded at once in the real-time run (each its own Session and ffmpeg)")
	flag.Parse()

	path := *src
	if path == "" {
		dir, err := os.MkdirTemp("", "bench-transcode")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "src.ts")
		log.Printf("generating a 20 s 1080p30 source in %s", path)
		out, err := exec.Command(*ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
			"testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t+u", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "20", "-ac", "2", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "6M",
			"-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "160k",
			"-f", "mpegts", path).CombinedOutput()
		if err != nil {
			log.Fatalf("generating the source: %v: %s", err, out)
		}
	}
	ts, err := mediatest.ReadTS(path)
	if err != nil {
		log.Fatal(err)
	}
	var s h264.SPS
	if err := s.Unmarshal(ts.SPS); err != nil {
		log.Fatal(err)
	}
	source := transcode.Source{Video: hls.VideoTrack{Kind: hls.H264, SPS: ts.SPS, PPS: ts.PPS, Codec: "avc1.640028",
		Width: s.Width(), Height: s.Height()}}
	if ts.AAC != nil {
		source.Audio = &hls.AudioTrack{Config: ts.AAC, Codec: "mp4a.40.2"}
	}
	frames := ts.Frames
	for i := range frames { // whole milliseconds, as RTMP ingest delivers
		frames[i].PTS, frames[i].DTS = frames[i].PTS.Round(time.Millisecond), frames[i].DTS.Round(time.Millisecond)
	}
	plan := transcode.Ladder("STANDARD", "", s.Width(), s.Height(), 30, true)
	var names []string
	for _, r := range plan.Rungs {
		names = append(names, fmt.Sprintf("%s %dx%d %dk", r.Name, r.Width, r.Height, r.VideoBitrate/1000))
	}
	fmt.Printf("source %s: %dx%d, %d frames; ladder: %s; low latency %v; %d CPUs; load before: %s\n",
		filepath.Base(path), s.Width(), s.Height(), len(frames), strings.Join(names, ", "), *ll, runtime.NumCPU(), loadavg())
	fmt.Println()
	fmt.Printf("%d channel(s) at once in the real-time run\n\n", *channels)
	fmt.Println("| preset | CPU per channel (% of one core) | Go side (% of one core) | channels on this machine (paced CPU) | unpaced speed (x real time) | latency p50 / p99 (top rung) | latency p50 / p99 (all rungs) | frames out / in (top rung, worst channel) | load before |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, preset := range strings.Split(*presets, ",") {
		cfg := transcode.Config{FFmpeg: *ffmpeg, Preset: preset, LowLatency: *ll,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		load := loadavg()
		r := paced(cfg, source, plan.Rungs, frames, *dur, *channels)
		speed := "-"
		if *unpaced {
			x, cpu := unpacedSpeed(cfg, source, plan.Rungs, frames)
			speed = fmt.Sprintf("%.2f (CPU %.0f%% of a core per media second)", x, 100*cpu)
		}
		fmt.Printf("| %s | %.0f%% | %.0f%% | %.1f | %s | %v / %v | %v / %v | %d / %d | %s |\n", preset, 100*r.cpu, 100*r.goCPU,
			float64(runtime.NumCPU())/(r.cpu+r.goCPU), speed, r.topP50, r.topP99, r.allP50, r.allP99, r.outTop, r.in, load)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// collector is the Output: it times each rung frame against the moment its source frame was written.
type collector struct {
	mu      sync.Mutex
	written map[time.Duration]time.Time
	lat     [][]time.Duration
	count   []int
	last    []time.Duration
	warm    time.Time // latencies before this are ffmpeg starting
}

func (c *collector) Track(int, hls.VideoTrack, *hls.AudioTrack) {}
func (c *collector) Audio(int, time.Duration, []byte)           {}
func (c *collector) State(running bool, err error) {
	if !running {
		log.Printf("transcoder down: %v", err)
	}
}

func (c *collector) Video(rung int, pts, _ time.Duration, _ [][]byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[rung]++
	c.last[rung] = max(c.last[rung], pts)
	if w, ok := c.written[pts]; ok && now.After(c.warm) {
		c.lat[rung] = append(c.lat[rung], now.Sub(w))
	}
}

type result struct {
	cpu, goCPU     float64
	topP50, topP99 time.Duration
	allP50, allP99 time.Duration
	in, outTop     int
}

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// paced feeds the source to n sessions at once, each in a loop, in real time, for d; CPU is ffmpeg's (the
// children's rusage once they have been waited for) and the Go process's, over the wall time, per channel.
func paced(cfg transcode.Config, src transcode.Source, rungs []transcode.Rung, frames []mediatest.Frame, d time.Duration, n int) result {
	cs := make([]*collector, n)
	ins := make([]int, n)
	child0, self0 := rusage(syscall.RUSAGE_CHILDREN), rusage(syscall.RUSAGE_SELF)
	start := time.Now()
	var wg sync.WaitGroup
	for ch := range n {
		c := &collector{written: map[time.Duration]time.Time{}, lat: make([][]time.Duration, len(rungs)),
			count: make([]int, len(rungs)), last: make([]time.Duration, len(rungs)), warm: start.Add(3 * time.Second)}
		cs[ch] = c
		s, err := transcode.Start(cfg, src, rungs, c)
		if err != nil {
			log.Fatal(err)
		}
		wg.Add(1)
		go func() { // this channel's ingest goroutine
			defer wg.Done()
			span := frames[len(frames)-1].DTS - frames[0].DTS + 33*time.Millisecond
		feed:
			for loop := time.Duration(0); ; loop += span {
				for _, f := range frames {
					at := start.Add(loop + f.DTS - frames[0].DTS)
					if at.Sub(start) > d {
						break feed
					}
					time.Sleep(time.Until(at))
					if f.Video {
						c.mu.Lock()
						c.written[loop+f.PTS] = time.Now()
						c.mu.Unlock()
						s.WriteVideo(loop+f.PTS, loop+f.DTS, f.AU)
						ins[ch]++
					} else {
						s.WriteAAC(loop+f.PTS, f.AU[0])
					}
				}
			}
			// Let the pipeline drain a moment (ffmpeg holds a few frames), then stop.
			time.Sleep(time.Second)
			s.Close()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	r := result{cpu: float64(rusage(syscall.RUSAGE_CHILDREN)-child0) / float64(wall) / float64(n),
		goCPU: float64(rusage(syscall.RUSAGE_SELF)-self0) / float64(wall) / float64(n), in: ins[0], outTop: cs[0].count[0]}
	var all, top []time.Duration
	for ch, c := range cs {
		if c.count[0]*ins[0] < r.outTop*ins[ch] {
			r.in, r.outTop = ins[ch], c.count[0]
		}
		top = append(top, c.lat[0]...)
		for _, l := range c.lat {
			all = append(all, l...)
		}
	}
	r.topP50, r.topP99 = pct(top, 0.5), pct(top, 0.99)
	r.allP50, r.allP99 = pct(all, 0.5), pct(all, 0.99)
	return r
}

func pct(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	l = slices.Clone(l)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))].Round(time.Millisecond)
}

// unpacedSpeed writes the whole source at once (a queue big enough to hold it) and times until every rung has
// passed the source's last keyframe: source duration over wall time.
func unpacedSpeed(cfg transcode.Config, src transcode.Source, rungs []transcode.Rung, frames []mediatest.Frame) (speed, cpu float64) {
	cfg.QueueFrames = len(frames) + 1
	c := &collector{written: map[time.Duration]time.Time{}, lat: make([][]time.Duration, len(rungs)),
		count: make([]int, len(rungs)), last: make([]time.Duration, len(rungs))}
	var lastKey time.Duration
	for _, f := range frames {
		if f.Video && h264.IsRandomAccess(f.AU) {
			lastKey = f.PTS
		}
	}
	child0 := rusage(syscall.RUSAGE_CHILDREN)
	start := time.Now()
	s, err := transcode.Start(cfg, src, rungs, c)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range frames {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
		}
	}
	for {
		c.mu.Lock()
		done := true
		for _, l := range c.last {
			done = done && l >= lastKey
		}
		c.mu.Unlock()
		if done {
			break
		}
		if time.Since(start) > 5*time.Minute {
			log.Fatal("unpaced run did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wall := time.Since(start)
	s.Close()
	media := float64(lastKey - frames[0].PTS)
	return media / float64(wall), float64(rusage(syscall.RUSAGE_CHILDREN)-child0) / media
}
