package transcode

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/mediatest"
)

// fixture is a 1080p30 H.264 + AAC source with timestamps rounded to whole milliseconds, as RTMP ingest delivers
// them.
type fixture struct {
	src    Source
	frames []mediatest.Frame
	path   string
}

var (
	fixtureMu  sync.Mutex
	fixtureDir string
	fixtures   = map[string]*fixture{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func ffmpegPath(t testing.TB) string {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
	}
	return p
}

// makeFixture generates the 1080p30 source once per test binary: 6 s of testsrc2, 1 s GOP with B-frames, 48 kHz
// stereo AAC.
func makeFixture(t testing.TB) *fixture { return makeSource(t, "1920x1080", 30) }

// makeSource generates (once per test binary) 6 s of testsrc2 at size and rate, x264 with B-frames and a 1 s GOP,
// with 48 kHz stereo AAC, and reads it back with timestamps rounded to whole milliseconds.
func makeSource(t testing.TB, size string, rate int) *fixture {
	ff := ffmpegPath(t)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	key := fmt.Sprintf("%s@%d", size, rate)
	if f := fixtures[key]; f != nil {
		return f
	}
	if fixtureDir == "" {
		d, err := os.MkdirTemp("", "transcode-fixture")
		if err != nil {
			t.Fatal(err)
		}
		fixtureDir = d
	}
	path := filepath.Join(fixtureDir, key+".ts")
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, rate),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-ac", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "bframes=2:b-adapt=0", "-g", fmt.Sprint(rate), "-keyint_min", fmt.Sprint(rate),
		"-sc_threshold", "0", "-b:v", "4M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", path).CombinedOutput()
	if err != nil {
		t.Fatalf("making the fixture: %v: %s", err, out)
	}
	ts, err := mediatest.ReadTS(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := videoTrack(ts.SPS, ts.PPS)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{path: path, src: Source{Video: v, Audio: &hls.AudioTrack{Config: ts.AAC, Codec: "mp4a.40.2"}}}
	for _, fr := range ts.Frames {
		fr.PTS, fr.DTS = fr.PTS.Round(time.Millisecond), fr.DTS.Round(time.Millisecond)
		f.frames = append(f.frames, fr)
	}
	fixtures[key] = f
	return f
}

// testLog sends the session's log to the test's.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func isKey(au [][]byte) bool { return h264.IsRandomAccess(au) }

// recorder is an Output that keeps everything.
type recorder struct {
	mu      sync.Mutex
	tracks  map[int][]hls.VideoTrack
	atracks map[int][]*hls.AudioTrack
	video   map[int][]vframe
	audio   map[int][][]byte
	apts    map[int][]time.Duration
	states  []stateEvent
	inCall  map[int]bool
	overlap bool
	changed chan struct{}
}

type vframe struct {
	pts, dts time.Duration
	key      bool
	at       time.Time
}

type stateEvent struct {
	running bool
	err     error
	at      time.Time
}

func newRecorder() *recorder {
	return &recorder{tracks: map[int][]hls.VideoTrack{}, atracks: map[int][]*hls.AudioTrack{}, video: map[int][]vframe{},
		audio: map[int][][]byte{}, apts: map[int][]time.Duration{}, inCall: map[int]bool{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) enter(rung int) {
	r.mu.Lock()
	if r.inCall[rung] {
		r.overlap = true
	}
	r.inCall[rung] = true
	r.mu.Unlock()
}

func (r *recorder) leave(rung int) {
	r.mu.Lock()
	r.inCall[rung] = false
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Track(rung int, v hls.VideoTrack, a *hls.AudioTrack) {
	r.enter(rung)
	defer r.leave(rung)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracks[rung] = append(r.tracks[rung], v)
	r.atracks[rung] = append(r.atracks[rung], a)
}

func (r *recorder) Video(rung int, pts, dts time.Duration, au [][]byte) {
	r.enter(rung)
	defer r.leave(rung)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.video[rung] = append(r.video[rung], vframe{pts: pts, dts: dts, key: isKey(au), at: time.Now()})
}

func (r *recorder) Audio(rung int, pts time.Duration, au []byte) {
	r.enter(rung)
	defer r.leave(rung)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audio[rung] = append(r.audio[rung], au)
	r.apts[rung] = append(r.apts[rung], pts)
}

func (r *recorder) State(running bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, stateEvent{running, err, time.Now()})
}

// waitFor polls cond (under the lock) until it holds or the timeout passes.
func (r *recorder) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// closeSession closes s, checks that its goroutines are gone (back to before) and that rec never had overlapping
// calls for one rung.
func closeSession(t *testing.T, s *Session, rec *recorder, before int) {
	t.Helper()
	s.Close()
	checkGoroutines(t, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.overlap {
		t.Error("overlapping Output calls for one rung")
	}
}

// goroutines waits for the number of goroutines to come back to at most n.
func checkGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSessionStandard1080p30 transcodes the fixture with STANDARD's 1080p30 ladder and checks what the packager
// relies on: sizes, aligned keyframes, source timestamps, audio passthrough and transcoding.
func TestSessionStandard1080p30(t *testing.T) {
	fx := makeFixture(t)
	before := runtime.NumGoroutine()
	plan := Ladder("STANDARD", "", 1920, 1080, 30, true)
	if !plan.Source || len(plan.Rungs) != 4 {
		t.Fatalf("plan %+v", plan)
	}
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), QueueFrames: 2000, Log: testLog(t)}, fx.src, plan.Rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	var srcPTS, srcKeys []time.Duration
	var srcAAC [][]byte
	s.WriteVideo(0, 0, nil) // empty access units are ignored, not a crash of the feeder
	s.WriteVideo(0, 0, [][]byte{{}})
	s.WriteAAC(0, nil)
	for _, f := range fx.frames {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
			srcPTS = append(srcPTS, f.PTS)
			if isKey(f.AU) {
				srcKeys = append(srcKeys, f.PTS)
			}
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
			srcAAC = append(srcAAC, f.AU[0])
		}
	}
	lastKey := srcKeys[len(srcKeys)-1]
	rec.waitFor(t, 25*time.Second, "every rung to pass the last source keyframe", func() bool {
		for i := range plan.Rungs {
			v := rec.video[i]
			if len(v) == 0 || v[len(v)-1].pts < lastKey {
				return false
			}
		}
		return true
	})
	closeSession(t, s, rec, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.states) != 0 {
		t.Errorf("unexpected state changes: %+v", rec.states)
	}
	srcSet := map[time.Duration]bool{}
	for _, p := range srcPTS {
		srcSet[p] = true
	}
	for i, r := range plan.Rungs {
		tr := rec.tracks[i]
		if len(tr) != 1 || tr[0].Width != r.Width || tr[0].Height != r.Height || !strings.HasPrefix(tr[0].Codec, "avc1.4D") {
			t.Errorf("rung %s: tracks %+v", r.Name, tr)
		}
		v := rec.video[i]
		// The span compared ends at the rung's last keyframe: frames come in decode order, so B-frames may still be
		// on their way after the last frame received, but none shown before a keyframe (closed GOPs).
		first, last := v[0].pts, v[0].pts
		for _, f := range v {
			if f.key {
				last = max(last, f.pts)
			}
		}
		if !v[0].key {
			t.Errorf("rung %s: first frame is not a keyframe", r.Name)
		}
		var outKeys, outPTS []time.Duration
		for _, f := range v {
			if !srcSet[f.pts] {
				t.Errorf("rung %s: pts %v is not a source pts", r.Name, f.pts)
				break
			}
			if f.pts > last {
				continue
			}
			outPTS = append(outPTS, f.pts)
			if f.key {
				outKeys = append(outKeys, f.pts)
			}
		}
		var wantKeys, wantPTS []time.Duration
		for _, p := range srcKeys {
			if p >= first && p <= last {
				wantKeys = append(wantKeys, p)
			}
		}
		for _, p := range srcPTS {
			if p >= first && p <= last {
				wantPTS = append(wantPTS, p)
			}
		}
		sort.Slice(outPTS, func(a, b int) bool { return outPTS[a] < outPTS[b] })
		sort.Slice(wantPTS, func(a, b int) bool { return wantPTS[a] < wantPTS[b] })
		if fmt.Sprint(outKeys) != fmt.Sprint(wantKeys) {
			t.Errorf("rung %s: keyframes %v, source's %v", r.Name, outKeys, wantKeys)
		}
		if fmt.Sprint(outPTS) != fmt.Sprint(wantPTS) {
			got := map[time.Duration]bool{}
			for _, p := range outPTS {
				got[p] = true
			}
			var missing []time.Duration
			for _, p := range wantPTS {
				if !got[p] {
					missing = append(missing, p)
				}
			}
			t.Errorf("rung %s: %d frames between %v and %v, the source has %d; missing %v", r.Name, len(outPTS), first, last, len(wantPTS), missing)
		}
		if first != srcKeys[0] {
			t.Errorf("rung %s: starts at %v, the source at %v", r.Name, first, srcKeys[0])
		}
		t.Logf("rung %s: %d frames, %d keyframes, %d audio frames", r.Name, len(v), len(outKeys), len(rec.audio[i]))

		// Audio
		at := rec.atracks[i]
		if len(at) != 1 || at[0] == nil {
			t.Errorf("rung %s: audio tracks %+v", r.Name, at)
			continue
		}
		if r.AudioBitrate == 0 {
			if at[0].Config.SampleRate != fx.src.Audio.Config.SampleRate || at[0].Config.ChannelCount != fx.src.Audio.Config.ChannelCount { //nolint:staticcheck
				t.Errorf("rung %s: passthrough audio track %+v", r.Name, at[0].Config)
			}
			if !containsRun(srcAAC, rec.audio[i]) {
				t.Errorf("rung %s: passthrough audio (%d frames) is not a run of the source's %d frames", r.Name, len(rec.audio[i]), len(srcAAC))
			}
		} else {
			if at[0].Codec != "mp4a.40.2" || at[0].Config.SampleRate != 48000 {
				t.Errorf("rung %s: audio track %s %+v", r.Name, at[0].Codec, at[0].Config)
			}
			// Bitrate of the AAC over the span: the encoder's average is close to the requested rate.
			n := 0
			for _, au := range rec.audio[i] {
				n += len(au)
			}
			dur := time.Duration(len(rec.audio[i])) * 1024 * time.Second / 48000
			rate := float64(n*8) / dur.Seconds()
			if rate < 0.7*float64(r.AudioBitrate) || rate > 1.3*float64(r.AudioBitrate) {
				t.Errorf("rung %s: AAC at %.0f bps, want about %d", r.Name, rate, r.AudioBitrate)
			}
			t.Logf("rung %s: AAC at %.0f bps (requested %d)", r.Name, rate, r.AudioBitrate)
		}
	}
}

// containsRun tells whether got is a contiguous run of want, byte for byte, and not empty.
func containsRun(want, got [][]byte) bool {
	if len(got) == 0 {
		return false
	}
	for i := range want {
		if bytes.Equal(want[i], got[0]) && i+len(got) <= len(want) {
			ok := true
			for j := range got {
				if !bytes.Equal(want[i+j], got[j]) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// TestSessionRestart kills ffmpeg with SIGKILL while a real-time source plays: State reports it, ffmpeg restarts,
// and output flows again from a source keyframe.
func TestSessionRestart(t *testing.T) {
	fx := makeFixture(t)
	before := runtime.NumGoroutine()
	rungs := Ladder("STANDARD", "", 1920, 1080, 30, true).Rungs[2:] // 360p30, 160p30: light enough for real time anywhere
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), LowLatency: true, Log: testLog(t)}, fx.src, rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() { // the ingest goroutine: the fixture in a loop, in real time
		defer close(fed)
		start := time.Now()
		span := 6 * time.Second
		for loop := time.Duration(0); ; loop += span {
			for _, f := range fx.frames {
				at := start.Add(loop + f.DTS)
				select {
				case <-stop:
					return
				case <-time.After(time.Until(at)):
				}
				if f.Video {
					s.WriteVideo(loop+f.PTS, loop+f.DTS, f.AU)
				} else {
					s.WriteAAC(loop+f.PTS, f.AU[0])
				}
			}
		}
	}()
	rec.waitFor(t, 10*time.Second, "first output", func() bool { return len(rec.video[0]) > 10 && len(rec.video[1]) > 10 })
	pid := s.pid()
	if pid == 0 {
		t.Fatal("no ffmpeg pid")
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	killed := time.Now()
	rec.waitFor(t, 5*time.Second, "State(false)", func() bool { return len(rec.states) >= 1 })
	rec.mu.Lock()
	n0, n1 := len(rec.video[0]), len(rec.video[1])
	st := rec.states[0]
	rec.mu.Unlock()
	if st.running || st.err == nil {
		t.Fatalf("first state %+v, want down with an error", st)
	}
	t.Logf("down after %v: %v", st.at.Sub(killed), st.err)
	rec.waitFor(t, 10*time.Second, "State(true) and output again", func() bool {
		return len(rec.states) >= 2 && len(rec.video[0]) > n0+10 && len(rec.video[1]) > n1+10
	})
	close(stop)
	<-fed
	if s.pid() == pid {
		t.Error("the same ffmpeg is still running")
	}
	s.Close()
	s.WriteVideo(0, 0, [][]byte{{5}}) // after Close: ignored
	checkGoroutines(t, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.states[1].running || rec.states[1].err != nil {
		t.Errorf("second state %+v, want up", rec.states[1])
	}
	t.Logf("up again %v after the kill", rec.states[1].at.Sub(killed))
	for i := range rungs {
		if got := len(rec.tracks[i]); got != 2 {
			t.Errorf("rung %d announced %d times, want 2: once per ffmpeg (the packager starts it afresh after the gap)", i, got)
		}
		v := rec.video[i]
		f := v[map[int]int{0: n0, 1: n1}[i]]
		if !f.key {
			t.Errorf("rung %d: the first frame after the restart is not a keyframe", i)
		}
		for j := 1; j < len(v); j++ {
			if v[j].dts <= v[j-1].dts {
				t.Errorf("rung %d: dts goes back at frame %d: %v after %v", i, j, v[j].dts, v[j-1].dts)
				break
			}
		}
		if rec.overlap {
			t.Error("overlapping Output calls for one rung")
		}
	}
}

func TestNoFFmpeg(t *testing.T) {
	_, err := Start(Config{}, Source{}, nil, nil)
	if err != ErrNoFFmpeg {
		t.Fatalf("err = %v", err)
	}
	_, err = Start(Config{FFmpeg: "/nonexistent/ffmpeg"}, Source{}, nil, nil)
	if err == nil || !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("err = %v", err)
	}
}

// TestSession60to30 checks the 30 fps cap of a rung from a 60 fps source: every other frame, the source's
// timestamps, every source keyframe kept; the 60 fps rung keeps every frame.
func TestSession60to30(t *testing.T) {
	fx := makeSource(t, "640x360", 60)
	rungs := []Rung{{Name: "160p60", Width: 284, Height: 160, FPS: 60, VideoBitrate: 300_000},
		{Name: "160p30", Width: 284, Height: 160, FPS: 30, VideoBitrate: 230_000, AudioBitrate: 48_000}}
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), QueueFrames: 2000, Log: testLog(t)}, fx.src, rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	srcSet := map[time.Duration]bool{}
	var srcKeys []time.Duration
	for _, f := range fx.frames {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
			srcSet[f.PTS] = true
			if isKey(f.AU) {
				srcKeys = append(srcKeys, f.PTS)
			}
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
		}
	}
	lastKey := srcKeys[len(srcKeys)-1]
	rec.waitFor(t, 20*time.Second, "both rungs to reach the last keyframe", func() bool {
		for i := range rungs {
			v := rec.video[i]
			if len(v) == 0 || v[len(v)-1].pts < lastKey {
				return false
			}
		}
		return true
	})
	s.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var n [2]int
	for i := range rungs {
		var keys []time.Duration
		for _, f := range rec.video[i] {
			if !srcSet[f.pts] {
				t.Fatalf("rung %d: pts %v is not a source pts", i, f.pts)
			}
			if f.pts < lastKey {
				n[i]++
			}
			if f.key {
				keys = append(keys, f.pts)
			}
		}
		if fmt.Sprint(keys) != fmt.Sprint(srcKeys) {
			t.Errorf("rung %d: keyframes %v, the source's %v", i, keys, srcKeys)
		}
	}
	want := 0
	for p := range srcSet {
		if p < lastKey {
			want++
		}
	}
	if n[0] != want || n[1] != want/2 {
		t.Errorf("frames before the last keyframe: 60 fps rung %d, 30 fps rung %d; the source has %d", n[0], n[1], want)
	}
}

// TestSessionFFmpegFails runs an ffmpeg that cannot start its encoder: State reports it with ffmpeg's own words,
// and Close ends the session during the backoff, leaking nothing.
func TestSessionFFmpegFails(t *testing.T) {
	fx := makeFixture(t)
	before := runtime.NumGoroutine()
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), VideoEncoder: "no_such_encoder", Log: testLog(t)}, fx.src,
		Ladder("STANDARD", "", 1920, 1080, 30, true).Rungs[3:], rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fx.frames[:100] {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
		}
	}
	rec.waitFor(t, 10*time.Second, "State(false)", func() bool { return len(rec.states) > 0 })
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	checkGoroutines(t, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if st := rec.states[0]; st.running || st.err == nil || !strings.Contains(st.err.Error(), "no_such_encoder") {
		t.Errorf("state %+v: want down, with ffmpeg's message", st)
	}
	t.Logf("reported: %v", rec.states[0].err)
}

// TestSessionClockWrap starts ffmpeg's input 65 s before the 33-bit MPEG-TS clock wraps (what a process meets after
// 26.5 hours) and feeds 72 s: the output stays on the source's timeline across the wrap. (ffmpeg's demuxer adds 2^33
// to timestamps after a wrap when its first timestamp was more than 60 s before it, as ours always is; a first
// timestamp closer to the wrap makes it subtract instead, which shifts the output: the offset avoids that case.)
func TestSessionClockWrap(t *testing.T) {
	fx := makeSource(t, "640x360", 30)
	startOffset = 1<<tsBits - 65*clockRate
	defer func() { startOffset = offsetTicks }()
	rungs := []Rung{{Name: "160p30", Width: 284, Height: 160, FPS: 30, VideoBitrate: 230_000, AudioBitrate: 48_000}}
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), Preset: "ultrafast", QueueFrames: 10000, Log: testLog(t)}, fx.src, rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	srcSet := map[time.Duration]bool{}
	var srcKeys []time.Duration
	span := 6 * time.Second
	for loop := range 12 {
		shift := time.Duration(loop) * span
		for _, f := range fx.frames {
			if f.Video {
				s.WriteVideo(shift+f.PTS, shift+f.DTS, f.AU)
				srcSet[shift+f.PTS] = true
				if isKey(f.AU) {
					srcKeys = append(srcKeys, shift+f.PTS)
				}
			} else {
				s.WriteAAC(shift+f.PTS, f.AU[0])
			}
		}
	}
	lastKey := srcKeys[len(srcKeys)-1]
	rec.waitFor(t, 40*time.Second, "output past the last keyframe", func() bool {
		v := rec.video[0]
		return len(v) > 0 && v[len(v)-1].pts >= lastKey
	})
	s.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var keys []time.Duration
	v := rec.video[0]
	for i, f := range v {
		if !srcSet[f.pts] {
			t.Fatalf("pts %v (frame %d) is not a source pts", f.pts, i)
		}
		if i > 0 && f.dts <= v[i-1].dts {
			t.Fatalf("dts goes back at frame %d: %v after %v", i, f.dts, v[i-1].dts)
		}
		if f.key {
			keys = append(keys, f.pts)
		}
	}
	if fmt.Sprint(keys) != fmt.Sprint(srcKeys) {
		t.Errorf("keyframes %v, the source's %v", keys, srcKeys)
	}
	a := rec.apts[0]
	for i := 1; i < len(a); i++ {
		if a[i] <= a[i-1] || a[i]-a[i-1] > 100*time.Millisecond {
			t.Fatalf("audio pts jump at frame %d: %v after %v", i, a[i], a[i-1])
		}
	}
	if a[len(a)-1] < lastKey-time.Second {
		t.Errorf("audio ends at %v", a[len(a)-1])
	}
	t.Logf("%d frames, %d keyframes, %d audio frames up to %v", len(v), len(keys), len(a), a[len(a)-1])
}

// TestSessionAudioOnly transcodes the fixture into an ADVANCED_SD plan's lowest video rung and its audio-only rung,
// from the same ffmpeg: the audio-only rung is AAC-LC alone at 64 kbps (a Track without video, no Video call),
// contiguous, on the source's timeline, with the timestamps of the video rung's AAC (the same timestamp handling).
// A source without audio gets no audio-only rung.
func TestSessionAudioOnly(t *testing.T) {
	fx := makeFixture(t)
	plan := Ladder("ADVANCED_SD", "", 1920, 1080, 30, true)
	rungs := plan.Rungs[len(plan.Rungs)-2:] // 160p30, audio_only
	if rungs[0].Name != "160p30" || !rungs[1].AudioOnly() || rungs[1].Name != "audio_only" || rungs[1].AudioBitrate != 64_000 {
		t.Fatalf("plan %+v", plan)
	}
	if _, err := Start(Config{FFmpeg: ffmpegPath(t)}, Source{Video: fx.src.Video}, rungs, newRecorder()); err == nil {
		t.Fatal("an audio-only rung for a source without audio was accepted")
	}
	before := runtime.NumGoroutine()
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), QueueFrames: 2000, Log: testLog(t)}, fx.src, rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	var srcAudio, srcKeys []time.Duration
	for _, f := range fx.frames {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
			if isKey(f.AU) {
				srcKeys = append(srcKeys, f.PTS)
			}
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
			srcAudio = append(srcAudio, f.PTS)
		}
	}
	lastKey := srcKeys[len(srcKeys)-1]
	rec.waitFor(t, 25*time.Second, "both rungs to pass the last source keyframe", func() bool {
		v, a := rec.video[0], rec.apts[1]
		return len(v) > 0 && v[len(v)-1].pts >= lastKey && len(a) > 0 && a[len(a)-1] >= lastKey
	})
	closeSession(t, s, rec, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if tr, at := rec.tracks[1], rec.atracks[1]; len(tr) != 1 || tr[0].Codec != "" || tr[0].SPS != nil || len(at) != 1 || at[0] == nil ||
		at[0].Codec != "mp4a.40.2" || at[0].Config.SampleRate != 48000 || at[0].Config.ChannelCount != 2 { //nolint:staticcheck
		t.Fatalf("audio-only rung: Track calls with video %+v, audio %+v", tr, at)
	}
	if n := len(rec.video[1]); n != 0 {
		t.Errorf("audio-only rung: %d video frames", n)
	}
	a := rec.apts[1]
	const frame = 1024 * time.Second / 48000
	for i := 1; i < len(a); i++ {
		// (within a millisecond: the encoder stamps its frames with the source's, whole milliseconds)
		if d := a[i] - a[i-1] - frame; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("audio-only rung: frame %d at %v, %v after the one before (AAC frames last %v): %v", i, a[i], a[i]-a[i-1], frame, a[:min(len(a), 12)])
		}
	}
	if a[0] < srcAudio[0]-2*frame || a[0] > srcKeys[0]+200*time.Millisecond || a[len(a)-1] > srcAudio[len(srcAudio)-1] {
		t.Errorf("audio-only rung: from %v to %v; the source's audio from %v to %v, its first keyframe at %v", a[0], a[len(a)-1],
			srcAudio[0], srcAudio[len(srcAudio)-1], srcKeys[0])
	}
	have := map[time.Duration]bool{}
	for _, p := range a {
		have[p] = true
	}
	if len(rec.apts[0]) == 0 {
		t.Error("the video rung has no audio")
	}
	for _, p := range rec.apts[0] {
		if p <= a[len(a)-1] && !have[p] {
			t.Fatalf("the video rung's AAC frame at %v has no audio-only frame at the same time", p)
		}
	}
	n := 0
	for _, au := range rec.audio[1] {
		n += len(au)
	}
	rate := float64(n*8) / (time.Duration(len(a)) * frame).Seconds()
	if rate < 0.7*64000 || rate > 1.3*64000 {
		t.Errorf("audio-only rung: AAC at %.0f bps, want about 64000", rate)
	}
	t.Logf("audio-only rung: %d AAC frames from %v to %v at %.0f bps; the video rung's AAC: %d frames", len(a), a[0], a[len(a)-1], rate, len(rec.apts[0]))
}

// TestSessionCloseDrains: Close lets ffmpeg encode every frame it was given, so the renditions end where the source
// ends (a recording's renditions are as long as its source), instead of losing what was still queued or in the
// encoder.
func TestSessionCloseDrains(t *testing.T) {
	fx := makeSource(t, "640x360", 30)
	before := runtime.NumGoroutine()
	plan := Ladder("STANDARD", "", 640, 360, 30, true) // the source and 160p30
	rec := newRecorder()
	s, err := Start(Config{FFmpeg: ffmpegPath(t), QueueFrames: 2000, Log: testLog(t)}, fx.src, plan.Rungs, rec)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	n := 0
	for _, f := range fx.frames {
		if f.Video {
			s.WriteVideo(f.PTS, f.DTS, f.AU)
			last = max(last, f.PTS)
			n++
		} else {
			s.WriteAAC(f.PTS, f.AU[0])
		}
	}
	s.Close() // at once: most frames are still queued
	checkGoroutines(t, before)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	v := rec.video[0]
	var got time.Duration
	for _, f := range v {
		got = max(got, f.pts)
	}
	if len(v) != n || got != last {
		t.Errorf("160p30 got %d frames up to %v, want all %d up to %v", len(v), got, n, last)
	}
}
