// Command latency measures glass-to-glass latency with a real web player: it plays a live stream for -d in
// headless Chromium with hls.js or the Amazon IVS web player (player.mjs, next to this file, on the real-player
// harness's page and npm packages in test/player) and reports, for the frames presented after -warmup:
//
//   - frame latency, the primary measure: the publisher draws the wall-clock time at which it captured each frame
//     into the frame itself (ffmpeg's geq filter, see bench/run-playback.sh: 40 black-or-white blocks, 32 bits of
//     milliseconds and an 8-bit checksum); the page decodes it from every frame the browser presents
//     (requestVideoFrameCallback, a canvas read-back) and the latency is the frame's display time minus its
//     capture time. Capture, encode (x264 zerolatency), RTMP, the server's packaging, HTTP, the player's buffer,
//     decode and presentation are all in it.
//   - metadata latency, with -api-endpoint and -channel-arn (openivs only): a PutMetadata every -metadata-every
//     carrying its send time; a cue's display time is, for the IVS player, when TEXT_METADATA_CUE fired (at
//     display), for hls.js (whose FRAG_PARSING_METADATA fires when the fragment is parsed, ahead of display) the
//     display time of the first presented frame at or after the cue's PTS (from the frames above; from the
//     playhead samples when no frame was decoded). It misses the encoder and the publisher's send buffer: the cue
//     is stamped at the newest frame the server has when the call lands.
//   - the player's own latency estimate (hls.latency, IVS getLiveLatency()), for comparison.
//
// Both machines' clocks are this machine's: the browser, ffmpeg and this tool run here.
//
//	latency -url http://127.0.0.1:8080/api/video/v1/....m3u8 -player hlsjs -ll -d 30s -api-endpoint http://127.0.0.1:8080 -channel-arn arn:...
//	latency -url http://127.0.0.1:8081/hls/key.m3u8 -player ivs -d 30s -json
//
// Exit status: 0 when some latency was measured, 1 when none was (nothing decoded), 2 when the run failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/openivs/openivs/bench/internal/procstat"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

type frame struct {
	DisplayMs float64 `json:"displayMs"` // performance.timeOrigin + expectedDisplayTime
	CbMs      float64 `json:"cbMs"`      // Date.now() in the callback
	Stamp     float64 `json:"stamp"`     // capture time, ms mod 2^32
	MediaTime float64 `json:"mediaTime"` // the frame's time on the media timeline (currentTime's)
}

type cue struct {
	WallMs int64   `json:"wallMs"`
	Text   string  `json:"text"`
	PTS    float64 `json:"pts"`
}

type sample struct {
	WallMs      int64   `json:"wallMs"`
	CurrentTime float64 `json:"currentTime"`
	Latency     float64 `json:"latency"`
	Paused      bool    `json:"paused"`
}

type playResult struct {
	Samples     []sample `json:"samples"`
	Cues        []cue    `json:"cues"`
	Errors      []string `json:"errors"`
	Fatal       bool     `json:"fatal"`
	Events      []string `json:"events"`
	Frames      []frame  `json:"frames"`
	BadFrames   int      `json:"badFrames"`
	StampReader string   `json:"stampReader"`
}

// stats are percentiles in milliseconds.
type stats struct {
	N   int     `json:"n"`
	P10 float64 `json:"p10_ms"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	Min float64 `json:"min_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(v []float64) stats {
	if len(v) == 0 {
		return stats{}
	}
	slices.Sort(v)
	return stats{N: len(v), P10: pct(v, 10), P50: pct(v, 50), P90: pct(v, 90), Min: v[0], Max: v[len(v)-1]}
}

func pct(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type report struct {
	Label      string  `json:"label"`
	Player     string  `json:"player"`
	LowLatency bool    `json:"low_latency"`
	HLSConfig  string  `json:"hlsjs_config,omitempty"`
	Watch      float64 `json:"watch_s"`
	Warmup     float64 `json:"warmup_s"`
	// Frames decoded after the warm-up; frames presented at all; frames whose stamp did not decode.
	Frame       stats   `json:"frame"`
	FrameMs     []int   `json:"frame_ms"` // every counted frame's latency, for pooling runs
	FramesAll   int     `json:"frames_all"`
	BadFrames   int     `json:"bad_frames"`
	FirstFrameS float64 `json:"first_frame_s"` // from load() to the first decoded frame
	// Presentation stalls after the warm-up: gaps of more than 250 ms between presented frames.
	Stalls int `json:"stalls"`
	// Capture slip: how much further the capture clock moved than the media timeline over the counted frames
	// (capture-time span minus media-time span). Above a few tens of ms the publisher fell behind real time (a
	// busy machine), and the latency grew by that much for reasons outside the server and the player.
	SlipMs     float64  `json:"capture_slip_ms"`
	StalledS   float64  `json:"stalled_s"`
	Meta       stats    `json:"metadata"`
	MetaSent   int      `json:"metadata_sent"`
	MetaMethod string   `json:"metadata_method,omitempty"`
	Estimate   stats    `json:"player_estimate"`
	Errors     []string `json:"errors,omitempty"`
	Fatal      bool     `json:"fatal"`
	LoadAvg    string   `json:"loadavg"`
	Started    string   `json:"started"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "", "the stream's playback URL (multivariant or media playlist)")
	player := fs.String("player", "hlsjs", "hlsjs or ivs")
	ll := fs.Bool("ll", true, "hls.js: lowLatencyMode (the IVS player decides itself)")
	dur := fs.Duration("d", 30*time.Second, "how long to watch after load()")
	warmup := fs.Duration("warmup", 6*time.Second, "frames and cues displayed this soon after load() are not counted")
	api := fs.String("api-endpoint", "", "IVS API endpoint for PutMetadata (with -channel-arn)")
	arn := fs.String("channel-arn", "", "channel to PutMetadata to")
	region := fs.String("region", "us-west-2", "region of the IVS API calls")
	every := fs.Duration("metadata-every", time.Second, "PutMetadata period")
	label := fs.String("label", "", "name of the target, copied into the output")
	asJSON := fs.Bool("json", false, "print one JSON line on stdout (the human report goes to stderr)")
	hlsConfig := fs.String("hlsjs-config", "", `experiments: a JSON object merged over the page's hls.js settings, e.g. '{"maxLiveSyncPlaybackRate":1.5}'`)
	scriptPath := fs.String("script", "", "player.mjs (default: the one next to this command's source)")
	keepRaw := fs.String("raw", "", "write the player's raw result (JSON) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *u == "" || (*player != "hlsjs" && *player != "ivs") {
		fmt.Fprintln(stderr, "latency: -url is required and -player is hlsjs or ivs")
		return 2
	}
	script := *scriptPath
	if script == "" {
		_, self, _, _ := runtime.Caller(0) // this source file's directory, when built from the repository
		script = filepath.Join(filepath.Dir(self), "player.mjs")
	}
	if _, err := os.Stat(script); err != nil {
		fmt.Fprintf(stderr, "latency: %v\n", err)
		return 2
	}

	rep := &report{Label: *label, Player: *player, LowLatency: *ll, Watch: dur.Seconds(), Warmup: warmup.Seconds(),
		LoadAvg: procstat.LoadAvg(), Started: time.Now().UTC().Format(time.RFC3339)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sentMu sync.Mutex
	sent := map[string]time.Time{}
	var metaWG sync.WaitGroup
	if *api != "" && *arn != "" {
		client := ivs.New(ivs.Options{Region: *region, BaseEndpoint: aws.String(*api),
			Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", "")})
		metaWG.Go(func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				now := time.Now()
				payload := fmt.Sprintf("sent=%d n=%d", now.UnixMilli(), i)
				sentMu.Lock()
				sent[payload] = now
				sentMu.Unlock()
				if _, err := client.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: arn, Metadata: aws.String(payload)}); err != nil && ctx.Err() == nil {
					fmt.Fprintf(stderr, "latency: PutMetadata: %v\n", err)
				}
			}
		})
	}

	po := map[string]any{"url": *u, "player": *player, "lowLatency": *ll, "durationMs": dur.Milliseconds()}
	if *hlsConfig != "" {
		var c map[string]any
		if err := json.Unmarshal([]byte(*hlsConfig), &c); err != nil {
			fmt.Fprintf(stderr, "latency: -hlsjs-config: %v\n", err)
			return 2
		}
		po["hlsConfig"] = c
		rep.HLSConfig = *hlsConfig
	}
	opts, _ := json.Marshal(po)
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", script, string(opts))
	cmd.Dir = filepath.Dir(script)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	loadAt := time.Now() // close to load(): the browser starts in about a second, the player right after
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cancel()
	metaWG.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "latency: player.mjs: %v\n%s", err, errb.String())
		return 2
	}
	if os.Getenv("LATENCY_CONSOLE") == "all" {
		stderr.Write(errb.Bytes()) // the page's whole console log, asked for (see player.mjs)
	}
	line := bytes.TrimSpace(out.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if *keepRaw != "" {
		os.WriteFile(*keepRaw, line, 0o644)
	}
	var res playResult
	if err := json.Unmarshal(line, &res); err != nil {
		fmt.Fprintf(stderr, "latency: player.mjs printed no result: %v\n%s", err, errb.String())
		return 2
	}
	rep.Errors, rep.Fatal, rep.BadFrames, rep.FramesAll = res.Errors, res.Fatal, res.BadFrames, len(res.Frames)
	if res.StampReader != "" {
		rep.Errors = append(rep.Errors, "stamp reader: "+res.StampReader)
	}
	// load() happened when the first sample was taken (page.js starts sampling right after it).
	if len(res.Samples) > 0 {
		loadAt = time.UnixMilli(res.Samples[0].WallMs)
	}
	from := float64(loadAt.Add(*warmup).UnixMilli())

	// frames
	var lat []float64
	var prev float64
	var first, last frame
	var firstCapture, lastCapture float64
	for i, f := range res.Frames {
		if i == 0 {
			rep.FirstFrameS = (f.DisplayMs - float64(loadAt.UnixMilli())) / 1000
		}
		if f.DisplayMs < from {
			prev = f.DisplayMs
			continue
		}
		capture := f.DisplayMs - math.Mod(f.DisplayMs-f.Stamp, 1<<32)
		lat = append(lat, f.DisplayMs-capture)
		rep.FrameMs = append(rep.FrameMs, int(math.Round(f.DisplayMs-capture)))
		if firstCapture == 0 {
			first, firstCapture = f, capture
		}
		last, lastCapture = f, capture
		if prev > 0 && f.DisplayMs-prev > 250 {
			rep.Stalls++
			rep.StalledS += (f.DisplayMs - prev) / 1000
		}
		prev = f.DisplayMs
	}
	rep.Frame = summarize(lat)
	if firstCapture > 0 {
		rep.SlipMs = (lastCapture - firstCapture) - 1000*(last.MediaTime-first.MediaTime)
	}

	// metadata cues
	sentMu.Lock()
	rep.MetaSent = len(sent)
	var mlat []float64
	for _, c := range res.Cues {
		at, ok := sent[c.Text]
		if !ok {
			continue
		}
		var shown float64
		switch {
		case *player == "ivs":
			shown, rep.MetaMethod = float64(c.WallMs), "TEXT_METADATA_CUE wall time"
		case c.PTS < 0:
			continue
		case len(res.Frames) > 0:
			shown, rep.MetaMethod = displayOfPTS(res.Frames, c.PTS), "display of the first frame at or after the cue's PTS"
		default:
			shown, rep.MetaMethod = crossing(res.Samples, c.PTS), "playhead samples crossing the cue's PTS"
		}
		if shown <= 0 || shown < from {
			continue
		}
		mlat = append(mlat, shown-float64(at.UnixNano())/1e6)
	}
	sentMu.Unlock()
	rep.Meta = summarize(mlat)

	// the player's estimate
	var pl []float64
	for _, s := range res.Samples {
		if float64(s.WallMs) >= from && s.Latency > 0 {
			pl = append(pl, s.Latency*1000)
		}
	}
	rep.Estimate = summarize(pl)

	rep.print(stderr)
	if len(rep.Errors) > 0 {
		fmt.Fprintf(stderr, "  player log:\n    %s\n", strings.Join(res.Events[max(0, len(res.Events)-8):], "\n    "))
	}
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(stdout, string(b))
	}
	if rep.Frame.N == 0 && rep.Meta.N == 0 {
		return 1
	}
	return 0
}

// displayOfPTS is the display time of the first presented frame whose media time is at or after pts (0: none).
func displayOfPTS(frames []frame, pts float64) float64 {
	for _, f := range frames {
		if f.MediaTime >= pts-0.0005 {
			return f.DisplayMs
		}
	}
	return 0
}

// crossing is the wall time at which the playhead reached t, interpolated between samples (0: it did not).
func crossing(samples []sample, t float64) float64 {
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if a.CurrentTime < t && b.CurrentTime >= t {
			if b.CurrentTime-a.CurrentTime > 2*float64(b.WallMs-a.WallMs)/1000+0.25 { // a seek
				return float64(b.WallMs)
			}
			return float64(a.WallMs) + (t-a.CurrentTime)/(b.CurrentTime-a.CurrentTime)*float64(b.WallMs-a.WallMs)
		}
	}
	return 0
}

func (r *report) print(w io.Writer) {
	ll := ""
	if r.Player == "hlsjs" {
		ll = " lowLatencyMode=" + strconv.FormatBool(r.LowLatency)
	}
	if r.HLSConfig != "" {
		ll += " " + r.HLSConfig
	}
	fmt.Fprintf(w, "%s %s%s: watched %.0f s, counted after %.0f s (load average %s)\n", r.Label, r.Player, ll, r.Watch, r.Warmup, r.LoadAvg)
	fmt.Fprintf(w, "  frame (capture→display): p50 %.0f ms, p90 %.0f, p10 %.0f, min %.0f, max %.0f over %d frames (%d presented, %d undecodable; first frame %.1f s after load); %d stalls, %.1f s; capture slip %.0f ms\n",
		r.Frame.P50, r.Frame.P90, r.Frame.P10, r.Frame.Min, r.Frame.Max, r.Frame.N, r.FramesAll, r.BadFrames, r.FirstFrameS, r.Stalls, r.StalledS, r.SlipMs)
	if r.MetaSent > 0 {
		fmt.Fprintf(w, "  metadata (PutMetadata→display, %s): p50 %.0f ms, p90 %.0f, min %.0f, max %.0f over %d cues (%d sent)\n",
			r.MetaMethod, r.Meta.P50, r.Meta.P90, r.Meta.Min, r.Meta.Max, r.Meta.N, r.MetaSent)
	}
	fmt.Fprintf(w, "  player's own estimate: p50 %.0f ms, p90 %.0f\n", r.Estimate.P50, r.Estimate.P90)
	if r.Fatal || len(r.Errors) > 0 {
		fmt.Fprintf(w, "  errors (fatal=%v): %s\n", r.Fatal, strings.Join(r.Errors[:min(len(r.Errors), 5)], "; "))
	}
}
