package e2e

// The real-player harness: Play watches a stream with a real web player (hls.js, or the official Amazon IVS web
// player) in headless Chromium and reports what a viewer saw. The work is done by test/player/play.mjs (node and
// playwright-core, installed by scripts/test.sh with `npm ci` in test/player; Chromium from Debian's package).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PlayerKind names a web player.
type PlayerKind string

const (
	HLSJS     PlayerKind = "hlsjs" // hls.js in headless Chromium
	IVSPlayer PlayerKind = "ivs"   // the official amazon-ivs-player web SDK (its wasm worker served locally)
)

// PlayOptions say what to play and how.
type PlayOptions struct {
	URL        string        // the multivariant playlist URL (may carry ?token=...)
	Player     PlayerKind    // HLSJS when empty
	LowLatency bool          // hls.js: lowLatencyMode true (false: false). IVS player: ignored (it decides itself)
	Duration   time.Duration // how long to watch after load(); 8 s when zero
	// PageOrigin is where the player's page is served, "http://127.0.0.1:<port>" or "http://localhost:<port>", so
	// the player's requests carry this Origin; "" = a free port on 127.0.0.1.
	PageOrigin string
	// Throttle is a schedule of network conditions for the page's requests (the DevTools protocol's
	// Network.emulateNetworkConditions; hls.js loads from the page, so it applies to all of hls.js's requests). A
	// step's At counts from the start of the watch (load()); steps at At <= 0 apply before the page loads. None:
	// the network is not touched.
	Throttle []ThrottleStep
	// HLSJSConfig is merged over the page's hls.js config (e.g. {"abrEwmaFastLive": 1}); nil keeps hls.js's
	// defaults. For tests that need a setting, each saying why.
	HLSJSConfig map[string]any
}

// ThrottleStep sets the network conditions from At on.
type ThrottleStep struct {
	At         time.Duration
	KbitPerSec int           // download and upload throughput; 0 = unthrottled
	Latency    time.Duration // added to every request; 0 = none
}

// ThrottleApplied is when a ThrottleStep took effect.
type ThrottleApplied struct {
	WallMs     int64 `json:"wallMs"` // Date.now() in play.mjs (same clock as Go's time.Now here)
	KbitPerSec int   `json:"kbps"`
	LatencyMs  int64 `json:"latencyMs"`
}

// Level is one variant hls.js found in the multivariant playlist (MANIFEST_PARSED), in hls.js's level order.
type Level struct {
	Width   int `json:"width"`
	Height  int `json:"height"`
	Bitrate int `json:"bitrate"` // the variant's BANDWIDTH, bits per second
}

// LevelSwitch is one LEVEL_SWITCHED of hls.js: the level being played changed.
type LevelSwitch struct {
	WallMs  int64 `json:"wallMs"`
	Level   int   `json:"level"` // index into PlayResult.Levels
	Height  int   `json:"height"`
	Bitrate int   `json:"bitrate"`
}

// Cue is one timed-metadata cue the player reported.
type Cue struct {
	WallMs int64  `json:"wallMs"` // Date.now() in the browser when the cue fired (same clock as Go's time.Now here)
	Text   string `json:"text"`   // hls.js: the value of the first ID3 TXXX frame of Raw; IVS player: TEXT_METADATA_CUE's text
	Raw    []byte `json:"raw"`    // hls.js: the raw ID3 sample bytes (FRAG_PARSING_METADATA samples[i].data); nil for the IVS player
	// PTS is the cue's time on the media timeline in seconds: hls.js: samples[i].pts (hls.js fires
	// FRAG_PARSING_METADATA when it parses the fragment, ahead of the playhead); IVS player: cue.startTime. -1 if unknown.
	PTS float64 `json:"pts"`
}

// PlayerSample is the player's state at one moment.
type PlayerSample struct {
	WallMs      int64   `json:"wallMs"`
	CurrentTime float64 `json:"currentTime"` // video.currentTime (hls.js) / player.getPosition() (IVS)
	// Latency is hls.latency (hls.js; -1 until a media playlist is loaded) or player.getLiveLatency() (IVS; 0 when
	// the player does not know it), in seconds.
	Latency float64 `json:"latency"`
	Paused  bool    `json:"paused"`
	// BandwidthEstimate is hls.bandwidthEstimate (hls.js's ABR estimate, bits per second); -1 for the IVS player.
	BandwidthEstimate float64 `json:"bandwidthEstimate"`
}

// PlayerRequest is one request the page (or its workers) made to the stream URL's host.
type PlayerRequest struct {
	Method  string `json:"method"`
	URL     string `json:"url"`
	Status  int    `json:"status"`            // 0 when no response arrived
	Failure string `json:"failure,omitempty"` // the browser's error text when the request failed (e.g. net::ERR_FAILED for CORS)
}

// PlayResult is what happened while watching.
type PlayResult struct {
	Samples    []PlayerSample  `json:"samples"` // every ~250 ms
	Cues       []Cue           `json:"cues"`
	Errors     []string        `json:"errors"` // every player error, "fatal: ..." for fatal ones (hls.js data.fatal / IVS ERROR events)
	Fatal      bool            `json:"fatal"`
	PageOrigin string          `json:"pageOrigin"`
	Requests   []PlayerRequest `json:"requests"` // every request to the stream URL's host, in the order they started
	// Levels and Switches: hls.js only (empty for the IVS player).
	Levels    []Level           `json:"levels"`
	Switches  []LevelSwitch     `json:"switches"`
	Throttled []ThrottleApplied `json:"throttled"` // opts.Throttle's steps as they took effect

	id3 []parsedID3 // the harness's own tests: parsed ID3 tags (see play)
}

// parsedID3 is what the page's ID3 parser made of one tag.
type parsedID3 struct {
	Text   string `json:"text"`
	Frames []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
		Value       string `json:"value"`
		Owner       string `json:"owner"`
	} `json:"frames"`
}

// Advanced is how many seconds currentTime moved forward between the first and last sample, by playing: jumps
// (the players' seek to the live edge after load, a skip over a gap) are left out. It adds up the forward moves
// between consecutive samples that are at most twice the wall time between them (plus 0.25 s).
func (r *PlayResult) Advanced() float64 {
	if r == nil {
		return 0
	}
	total := 0.0
	for i := 1; i < len(r.Samples); i++ {
		a, b := r.Samples[i-1], r.Samples[i]
		d := b.CurrentTime - a.CurrentTime
		if d > 0 && d <= 2*float64(b.WallMs-a.WallMs)/1000+0.25 {
			total += d
		}
	}
	return total
}

// Play opens a fresh headless Chromium (/usr/bin/chromium with a fresh profile, autoplay allowed, the video
// muted), plays opts.URL with opts.Player for opts.Duration and returns what happened. It runs
// `node test/player/play.mjs` and parses the JSON document it prints; play.mjs's log is passed to t.Logf.
// Cancelling ctx stops it (node gets SIGTERM, and whatever is left of the browser is killed) and Play returns an
// error wrapping ctx.Err().
func Play(ctx context.Context, t testing.TB, opts PlayOptions) (*PlayResult, error) {
	t.Helper()
	return play(ctx, t, opts, nil)
}

// play is Play, and for the harness's own tests the page's ID3 parser (the one that fills Cue.Text) is run on the
// given tags too: the results are in PlayResult.id3.
func play(ctx context.Context, t testing.TB, opts PlayOptions, id3Tags [][]byte) (*PlayResult, error) {
	t.Helper()
	if opts.Player == "" {
		opts.Player = HLSJS
	}
	if opts.Duration <= 0 {
		opts.Duration = 8 * time.Second
	}
	args := map[string]any{
		"url":        opts.URL,
		"player":     string(opts.Player),
		"lowLatency": opts.LowLatency,
		"durationMs": opts.Duration.Milliseconds(),
		"pageOrigin": opts.PageOrigin,
	}
	if len(opts.Throttle) > 0 {
		steps := make([]map[string]any, len(opts.Throttle))
		for i, st := range opts.Throttle {
			steps[i] = map[string]any{"atMs": st.At.Milliseconds(), "kbps": st.KbitPerSec, "latencyMs": st.Latency.Milliseconds()}
		}
		args["throttle"] = steps
	}
	if opts.HLSJSConfig != nil {
		args["hlsConfig"] = opts.HLSJSConfig
	}
	if id3Tags != nil {
		args["id3Samples"] = id3Tags
	}
	return runPlayScript(ctx, t, args)
}

// profileHook is a context key for the harness's own tests: its value, a func(string), is told the browser profile
// directory of the Play given that context.
type profileHook struct{}

func playerDir() string { return filepath.Join(RepoRoot(), "test", "player") }

func runPlayScript(ctx context.Context, t testing.TB, opts map[string]any) (*PlayResult, error) {
	t.Helper()
	dir := playerDir()
	script := filepath.Join(dir, "play.mjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		return nil, fmt.Errorf("the player harness is not installed (run `npm ci` in %s; scripts/test.sh does): %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is required for the player harness: %v", err)
	}
	profile, err := os.MkdirTemp("", "openivs-chromium-")
	if err != nil {
		return nil, err
	}
	defer func() {
		// Chromium may still be writing while it dies: remove the profile once its processes are gone.
		for i := 0; i < 50 && killProfileProcesses(profile) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if os.RemoveAll(profile) != nil {
			time.Sleep(200 * time.Millisecond)
			_ = os.RemoveAll(profile)
		}
	}()
	if hook, ok := ctx.Value(profileHook{}).(func(string)); ok {
		hook(profile)
	}
	opts["userDataDir"] = profile
	arg, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, script, string(arg))
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// On cancellation node gets SIGTERM and exits, its exit handler killing the browser; if it has not ended 5 s
	// later it is killed (and the browser, which then loses its pipe, exits or is killed below).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	left := killProfileProcesses(profile) // a browser that outlived node (it runs in a process group of its own)
	t.Logf("play.mjs (%s, %v, %d browser processes left):\n%s", opts["player"], time.Since(start).Round(time.Millisecond), left, strings.TrimRight(stderr.String(), "\n"))
	if ctx.Err() != nil {
		return nil, fmt.Errorf("play: %w", ctx.Err())
	}
	if runErr != nil {
		return nil, fmt.Errorf("play.mjs: %v (stderr: %s)", runErr, playerLastLines(stderr.String(), 10))
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var raw struct {
		PlayResult
		ID3 []parsedID3 `json:"id3"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("play.mjs printed no result: %v (stdout: %q)", err, playerLastLines(stdout.String(), 3))
	}
	res := raw.PlayResult
	res.id3 = raw.ID3
	return &res, nil
}

// killProfileProcesses kills the processes whose command line names the given (unique, temporary) profile
// directory or a file in it: a browser that outlived its driver. It returns how many live (not zombie) ones it
// found.
func killProfileProcesses(profile string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	arg, sub := []byte(profile+"\x00"), []byte(profile+"/")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !(bytes.Contains(cmdline, arg) || bytes.Contains(cmdline, sub)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n
}

func playerLastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
