package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amp4 "github.com/abema/go-mp4"
	"github.com/asticode/go-astits"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/openivs/openivs/internal/mediatest"
)

// frame is one access unit of the fixture, in order of arrival.
type frame struct {
	video    bool
	pts, dts time.Duration
	au       [][]byte
}

// fixture reads testdata/source.ts (4.2 s of 192x108 30 fps H.264 High with B-frames and a 1 s GOP, AAC 44.1 kHz).
func fixture(t testing.TB) (frames []frame, v VideoTrack, a *AudioTrack) {
	return fixtureFile(t, "testdata/source.ts")
}

// hevcFixture reads testdata/source_hevc.ts, the same picture and sound in HEVC: 4.2 s of 192x108 30 fps Main
// from libx265 (keyint=30, scenecut=0, 3 B-frames), AAC 44.1 kHz.
func hevcFixture(t testing.TB) (frames []frame, v VideoTrack, a *AudioTrack) {
	return fixtureFile(t, "testdata/source_hevc.ts")
}

// sources are the fixtures with the containers that carry their video.
var sources = []struct {
	name       string
	read       func(testing.TB) ([]frame, VideoTrack, *AudioTrack)
	containers []string
}{
	{"H.264", fixture, []string{ContainerTS, ContainerFMP4}},
	{"HEVC", hevcFixture, []string{ContainerFMP4}},
}

// fixtureFile reads an MPEG-TS with an H.264 or HEVC video track and an AAC track.
func fixtureFile(t testing.TB, path string) (frames []frame, v VideoTrack, a *AudioTrack) {
	t.Helper()
	ts, err := mediatest.ReadTS(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ts.Frames {
		frames = append(frames, frame{video: f.Video, pts: f.PTS, dts: f.DTS, au: f.AU})
	}
	v = VideoTrack{VPS: ts.VPS, SPS: ts.SPS, PPS: ts.PPS, Codec: "avc1.64000B", Width: 192, Height: 108}
	if ts.HEVC {
		v.Kind, v.Codec = H265, "hvc1.1.6.L60.90"
	}
	return frames, v, &AudioTrack{Config: ts.AAC, Codec: "mp4a.40.2"}
}

// feed writes the fixture loops times, shifting each loop by its duration, and returns the stream's length.
func feed(t testing.TB, m *Muxer, frames []frame, loops int, each func(i int)) {
	t.Helper()
	feedFrom(t, m, frames, 0, loops, each)
}

// feedFrom writes the fixture loops times after the first from loops (feed's timeline, continued); each is called
// after every frame with its index in this call.
func feedFrom(t testing.TB, m *Muxer, frames []frame, from, loops int, each func(i int)) {
	t.Helper()
	const loopDur = 4200 * time.Millisecond
	i := 0
	for l := from; l < from+loops; l++ {
		off := time.Duration(l) * loopDur
		for _, f := range frames {
			if f.video {
				if err := m.WriteVideo(f.pts+off, f.dts+off, f.au); err != nil {
					t.Fatal(err)
				}
			} else {
				m.WriteAAC(f.pts+off, f.au[0])
			}
			if each != nil {
				each(i)
			}
			i++
		}
	}
}

// dump writes the playlist and every segment and part of the window to dir.
func dump(t testing.TB, m *Muxer, dir string, skip bool) []byte {
	t.Helper()
	u := RelativeURLs{Ext: m.Ext()}
	pl := m.MediaPlaylist(u, skip)
	if err := os.WriteFile(filepath.Join(dir, "playlist.m3u8"), pl, 0o644); err != nil {
		t.Fatal(err)
	}
	if init := m.Init(); init != nil {
		os.WriteFile(filepath.Join(dir, u.Init()), init, 0o644)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.segments {
		var all []byte
		for j, p := range s.Parts {
			os.WriteFile(filepath.Join(dir, u.Part(s.MSN, j)), p.Data, 0o644)
			all = append(all, p.Data...)
		}
		os.WriteFile(filepath.Join(dir, u.Segment(s.MSN)), all, 0o644)
	}
	return pl
}

// decodedFrames decodes a playlist with ffmpeg (any decoding error fails) and counts the video frames.
func decodedFrames(t testing.TB, path string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	// the count is printed for the program's stream and for the stream; anything else is an error message
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		t.Fatalf("ffprobe printed nothing")
	}
	n, err := strconv.Atoi(lines[0])
	for _, l := range lines {
		if l != lines[0] || err != nil {
			t.Fatalf("ffprobe printed errors:\n%s", out)
		}
	}
	return n
}

func TestMuxerPlaylistsAndMediaDecode(t *testing.T) {
	type testCase struct {
		source    int
		container string
		ll        bool
	}
	var cases []testCase
	for i, src := range sources {
		for _, ll := range []bool{true, false} {
			for _, c := range src.containers {
				cases = append(cases, testCase{i, c, ll})
			}
		}
	}
	for _, tc := range cases {
		src := sources[tc.source]
		frames, v, a := src.read(t)
		nVideo := 0
		for _, f := range frames {
			if f.video {
				nVideo++
			}
		}
		t.Run(fmt.Sprintf("%s/%s/ll=%v", src.name, tc.container, tc.ll), func(t *testing.T) {
			var completed []*Segment
			m, err := New(Config{LowLatency: tc.ll, Container: tc.container, Video: v, Audio: a,
				OnSegment: func(s *Segment) { completed = append(completed, s) }})
			if err != nil {
				t.Fatal(err)
			}
			feed(t, m, frames, 1, nil)
			m.Close()
			dir := t.TempDir()
			pl := dump(t, m, dir, false)

			parsed, err := playlist.Unmarshal(pl)
			if err != nil {
				t.Fatalf("gohlslib cannot parse our playlist: %v\n%s", err, pl)
			}
			mp := parsed.(*playlist.Media)
			if !mp.Endlist {
				t.Error("ended stream without EXT-X-ENDLIST")
			}
			min := minSegmentNormal
			if tc.ll {
				min = minSegmentLow
				if mp.ServerControl == nil || !mp.ServerControl.CanBlockReload || mp.PartInf == nil {
					t.Fatalf("LL-HLS playlist without server control / part-inf:\n%s", pl)
				}
			} else if mp.PartInf != nil || strings.Contains(string(pl), "#EXT-X-PART") {
				t.Fatalf("standard HLS playlist lists parts:\n%s", pl)
			}
			if len(completed) != len(mp.Segments) {
				t.Errorf("OnSegment called %d times for %d segments", len(completed), len(mp.Segments))
			}
			var total time.Duration
			for i, s := range mp.Segments {
				total += s.Duration
				if s.DateTime == nil {
					t.Errorf("segment %d without EXT-X-PROGRAM-DATE-TIME", i)
				}
				if i < len(mp.Segments)-1 && (s.Duration < min-keyframeTolerance || s.Duration > min+keyframeTolerance+time.Second) {
					t.Errorf("segment %d lasts %v (keyframes every 1 s, minimum %v)", i, s.Duration, min)
				}
				if time.Duration(mp.TargetDuration)*time.Second < s.Duration.Round(time.Second) {
					t.Errorf("segment %d (%v) longer than the target duration %d", i, s.Duration, mp.TargetDuration)
				}
				if !completed[i].Parts[0].Independent {
					t.Errorf("segment %d does not start with a keyframe", i)
				}
			}
			checkParts(t, m, completed, keyframes(frames, v.Kind, 1, 1))
			if d := total - 4200*time.Millisecond; d < -50*time.Millisecond || d > 50*time.Millisecond {
				t.Errorf("segments add up to %v, the source lasts 4.2 s", total)
			}
			if got := decodedFrames(t, filepath.Join(dir, "playlist.m3u8")); got != nVideo {
				t.Errorf("ffprobe decoded %d video frames from the playlist, the source has %d", got, nVideo)
			}
			want := map[VideoCodec]string{H264: "h264,192,108", H265: "hevc,192,108"}[v.Kind]
			if got := probeVideo(t, filepath.Join(dir, "playlist.m3u8")); got != want {
				t.Errorf("ffprobe reads the video as %q, want %q", got, want)
			}
		})
	}
}

// probeVideo is ffprobe's "codec,width,height" of a playlist's video.
func probeVideo(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	return strings.Fields(string(out))[0]
}

// forEachSource runs test as a subtest for every fixture in every container that carries its video.
func forEachSource(t *testing.T, test func(t *testing.T, frames []frame, v VideoTrack, a *AudioTrack, container string)) {
	for _, src := range sources {
		frames, v, a := src.read(t)
		for _, container := range src.containers {
			t.Run(src.name+"/"+container, func(t *testing.T) { test(t, frames, v, a, container) })
		}
	}
}

// keyframes returns the decode times of the keyframes of loops of frames (fed as feed does, with timestamps
// times scale), from the first.
func keyframes(frames []frame, kind VideoCodec, loops int, scale float64) []time.Duration {
	var keys []time.Duration
	for l := range loops {
		for _, f := range frames {
			if f.video && isKeyframe(kind, f.au) {
				keys = append(keys, time.Duration(float64(f.dts+time.Duration(l)*4200*time.Millisecond)*scale))
			}
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		keys[i] -= keys[0]
	}
	return keys
}

// checkParts checks the parts of segments: every part within the playlist's PART-TARGET; every part but the
// last two at least partCut long (the one before the last may be cut short); and, when the segment ended at the
// keyframe the keyframe interval foretold (keys: the stream's keyframes), the last part at least minLastPart,
// longer than hls.js's 0.2 s buffer padding (see minLastPart).
func checkParts(t *testing.T, m *Muxer, segs []*Segment, keys []time.Duration) {
	t.Helper()
	near := func(a, b time.Duration) bool { return a-b < time.Microsecond && b-a < time.Microsecond }
	foretold := func(seg *Segment) bool {
		end := seg.StartDTS + seg.Duration
		for i := 2; i < len(keys); i++ {
			if near(keys[i], end) {
				return near(keys[i]-keys[i-1], keys[i-1]-keys[i-2])
			}
		}
		return false // the stream's end, or not a keyframe
	}
	checked := 0
	pl := string(m.MediaPlaylist(RelativeURLs{Ext: m.Ext()}, false))
	m.mu.Lock()
	pt := m.partTarget
	m.mu.Unlock()
	if pt < PartTarget || pt > 300*time.Millisecond {
		t.Errorf("part target %v, want %v to 300 ms", pt, PartTarget)
	}
	if m.cfg.LowLatency && !strings.Contains(pl, "PART-TARGET="+secs(pt)+"\n") || m.cfg.LowLatency && !strings.Contains(pl, "PART-HOLD-BACK="+secs(2*pt)+"\n") {
		t.Errorf("the playlist does not give PART-TARGET %v and PART-HOLD-BACK twice that:\n%s", pt, pl)
	}
	for _, seg := range segs {
		n := len(seg.Parts)
		for j, p := range seg.Parts {
			switch {
			case p.Duration > pt:
				t.Errorf("segment %d part %d lasts %v > part target %v", seg.MSN, j, p.Duration, pt)
			case j < n-2 && p.Duration < partCut && foretold(seg):
				t.Errorf("segment %d part %d lasts only %v", seg.MSN, j, p.Duration)
			case j == n-1 && p.Duration < minLastPart && foretold(seg):
				t.Errorf("segment %d: its last part (%d) lasts only %v", seg.MSN, j, p.Duration)
			}
		}
		if foretold(seg) {
			checked++
		}
	}
	if checked < len(segs)/2 {
		t.Errorf("only %d of %d segments ended where the keyframe interval foretold", checked, len(segs))
	}
}

func TestMuxerLastPartOutlastsHLSJSPadding(t *testing.T) {
	// The fixture (30 fps, a keyframe a second) retimed to other frame rates, which stretches its keyframe
	// interval too: 24 fps (1.25 s), 25 fps (1.2 s), 50 and 60 fps (0.6 s, 0.5 s: two intervals a segment).
	frames, v, a := fixture(t)
	for _, fps := range []int{24, 25, 30, 50, 60} {
		t.Run(fmt.Sprintf("%dfps", fps), func(t *testing.T) {
			scale := func(d time.Duration) time.Duration { return d * 30 / time.Duration(fps) }
			var completed []*Segment
			m, err := New(Config{LowLatency: true, Container: ContainerFMP4, Video: v, Audio: a,
				OnSegment: func(s *Segment) { completed = append(completed, s) }})
			if err != nil {
				t.Fatal(err)
			}
			loop := scale(4200 * time.Millisecond)
			keys := keyframes(frames, v.Kind, 6, 30/float64(fps))
			for l := range 6 {
				off := time.Duration(l) * loop
				for _, f := range frames {
					if f.video { // the audio keeps its own clock: only video decides parts
						if err := m.WriteVideo(scale(f.pts)+off, scale(f.dts)+off, f.au); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			m.Close()
			if len(completed) < 12 {
				t.Fatalf("%d segments", len(completed))
			}
			checkParts(t, m, completed, keys)
		})
	}
}

func TestMuxerLLPartsPlaylistDecodes(t *testing.T) {
	// A player that joins at the live edge reads the parts: a playlist made of the parts alone must decode.
	forEachSource(t, testLLPartsPlaylistDecodes)
}

func testLLPartsPlaylistDecodes(t *testing.T, frames []frame, v VideoTrack, a *AudioTrack, container string) {
	m, err := New(Config{LowLatency: true, Container: container, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 1, nil)
	m.Close()
	dir := t.TempDir()
	dump(t, m, dir, false)
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n")
	if container == ContainerFMP4 {
		b.WriteString("#EXT-X-MAP:URI=\"init.mp4\"\n")
	}
	n := 0
	m.mu.Lock()
	for _, s := range m.segments {
		for j, p := range s.Parts {
			fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", secs(p.Duration), RelativeURLs{Ext: m.Ext()}.Part(s.MSN, j))
			n++
		}
	}
	m.mu.Unlock()
	b.WriteString("#EXT-X-ENDLIST\n")
	os.WriteFile(filepath.Join(dir, "parts.m3u8"), []byte(b.String()), 0o644)
	if n < 12 {
		t.Fatalf("only %d parts for 4.2 s", n)
	}
	if got := decodedFrames(t, filepath.Join(dir, "parts.m3u8")); got < 120 {
		t.Errorf("decoded %d frames from the parts", got)
	}
}

func TestMuxerDeltaUpdateAndWindow(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 5, nil) // 21 s
	full, err := playlist.Unmarshal(m.MediaPlaylist(RelativeURLs{Ext: "ts"}, false))
	if err != nil {
		t.Fatal(err)
	}
	delta, err := playlist.Unmarshal(m.MediaPlaylist(RelativeURLs{Ext: "ts"}, true))
	if err != nil {
		t.Fatal(err)
	}
	f, d := full.(*playlist.Media), delta.(*playlist.Media)
	var window time.Duration
	for _, s := range f.Segments {
		window += s.Duration
	}
	if window < windowLow || window > windowLow+3*time.Second {
		t.Errorf("window holds %v of media, want about %v", window, windowLow)
	}
	if f.MediaSequence < 10 {
		t.Errorf("media sequence %d after 21 s of 1 s segments: old segments not dropped", f.MediaSequence)
	}
	if d.Skip == nil || d.Skip.SkippedSegments == 0 {
		t.Fatalf("no EXT-X-SKIP in the delta update:\n%s", m.MediaPlaylist(RelativeURLs{Ext: "ts"}, true))
	}
	if d.Skip.SkippedSegments+len(d.Segments) != len(f.Segments) || d.MediaSequence != f.MediaSequence {
		t.Errorf("delta: %d skipped + %d listed, full playlist has %d", d.Skip.SkippedSegments, len(d.Segments), len(f.Segments))
	}
	if last := d.Segments[len(d.Segments)-1].URI; last != f.Segments[len(f.Segments)-1].URI {
		t.Errorf("delta ends at %s, full at %s", last, f.Segments[len(f.Segments)-1].URI)
	}
	// a segment that just left the playlist stays fetchable; an old one is gone
	if _, ok := m.Segment(uint64(f.MediaSequence - 1)); !ok {
		t.Error("the segment that just left the window is not fetchable")
	}
	if _, ok := m.Segment(0); ok {
		t.Error("segment 0 still held after 21 s")
	}
}

// TestMuxerLockFreeReads: what readers learn without the mutex (the live edge, the newest part, the shared
// playlist) agrees with the locked state at every frame of a stream that outlives its window, and at its end.
func TestMuxerLockFreeReads(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	check := func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for msn := uint64(0); msn <= m.nextMSN+1; msn++ {
			for part := -1; part < 6; part++ {
				if got, want := m.published(msn, part), m.closed || m.has(msn, part); got != want {
					t.Fatalf("published(%d, %d) = %v, has: %v (next %d)", msn, part, got, want, m.nextMSN)
				}
			}
		}
		if n := m.newest.Load(); n != nil {
			if s := m.find(n.msn); s == nil || n.i >= len(s.Parts) || s.Parts[n.i] != n.part || (m.open != nil && n.i != len(m.open.Parts)-1) {
				t.Fatalf("newest part (%d, %d) is not the last published", n.msn, n.i)
			}
		}
	}
	checkShared := func() {
		for _, skip := range []bool{false, true} {
			shared := m.SharedPlaylist("x/", skip)
			if want := m.MediaPlaylist(PrefixURLs{Prefix: "x/", Ext: "ts"}, skip); !bytes.Equal(shared, want) {
				t.Fatalf("SharedPlaylist(skip=%v) is stale:\n%s\nwant:\n%s", skip, shared, want)
			}
		}
	}
	feed(t, m, frames, 3, func(i int) {
		check()
		if i%7 == 0 {
			checkShared()
		}
	})
	m.Close()
	check()
	checkShared()
}

func TestMuxerBlockingReloadAndPreloadHint(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerFMP4, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	half := len(frames) / 2
	feed(t, m, frames[:half], 1, nil)
	pl, _ := playlist.Unmarshal(m.MediaPlaylist(RelativeURLs{Ext: "mp4"}, false))
	mp := pl.(*playlist.Media)
	if mp.PreloadHint == nil {
		t.Fatal("no preload hint")
	}
	var msn uint64
	var part int
	if _, err := fmt.Sscanf(mp.PreloadHint.URI, "%d.%d.mp4", &msn, &part); err != nil {
		t.Fatalf("preload hint %q: %v", mp.PreloadHint.URI, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gotPart := make(chan error, 1)
	go func() {
		p, err := m.WaitPart(ctx, msn, part, 0)
		if err == nil && len(p.Data) == 0 {
			err = errors.New("empty part")
		}
		gotPart <- err
	}()
	waited := make(chan error, 1)
	go func() { waited <- m.Wait(ctx, msn, part, 0) }()
	select {
	case err := <-gotPart:
		t.Fatalf("the hinted part was served before it existed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	feed(t, m, frames[half:], 1, nil)
	if err := <-gotPart; err != nil {
		t.Fatalf("hinted part: %v", err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("blocking reload: %v", err)
	}
	if !strings.Contains(string(m.MediaPlaylist(RelativeURLs{Ext: "mp4"}, false)), mp.PreloadHint.URI) {
		t.Error("the playlist after the wait does not list the hinted part")
	}
	if err := m.Wait(ctx, msn+5, 0, 0); !errors.Is(err, ErrTooFar) {
		t.Errorf("a request five segments ahead: %v, want ErrTooFar", err)
	}
	// blocking requests give up after their timeout: the playlist is served as it is, the part is not
	m.mu.Lock()
	nextMSN, nextPart := m.nextMSN, 0
	if m.open != nil {
		nextMSN, nextPart = m.open.MSN, len(m.open.Parts)
	}
	m.mu.Unlock()
	if err := m.Wait(ctx, nextMSN, nextPart, 20*time.Millisecond); err != nil {
		t.Errorf("a blocking reload that timed out: %v, want nil", err)
	}
	if _, err := m.WaitPart(ctx, nextMSN, nextPart, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a part that did not come in time: %v, want context.DeadlineExceeded", err)
	}
	m.Close()
	m.mu.Lock()
	next := m.nextMSN
	m.mu.Unlock()
	if _, err := m.WaitPart(ctx, next, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("waiting for a part of an ended stream: %v, want ErrClosed", err)
	}
}

// TestMuxerWaitNextPart: WaitNextPart returns once the next part is published, at once for an ended stream, and
// when its context ends.
func TestMuxerWaitNextPart(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	half := len(frames) / 2
	feed(t, m, frames[:half], 1, nil)
	before := m.newest.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	saw := make(chan *newestPart, 1)
	go func() {
		m.WaitNextPart(ctx, time.Minute)
		saw <- m.newest.Load()
	}()
	select {
	case <-saw:
		t.Fatal("WaitNextPart returned before a part was published")
	case <-time.After(100 * time.Millisecond):
	}
	i := half
	for m.newest.Load() == before {
		feedFrom(t, m, frames[i:i+1], 0, 1, nil)
		i++
	}
	if got := <-saw; got == before {
		t.Errorf("WaitNextPart returned with part %d.%d, the newest before it", got.msn, got.i)
	}
	if ctx.Err() != nil {
		t.Fatal("WaitNextPart waited for its context, not for the part")
	}

	gone, stop := context.WithCancel(ctx)
	stop()
	m.WaitNextPart(gone, time.Minute) // returns: its context has ended
	m.Close()
	m.WaitNextPart(ctx, time.Minute) // returns at once: the stream has ended
	if ctx.Err() != nil {
		t.Error("WaitNextPart on an ended stream waited for its context")
	}
}

func TestMuxerTimedMetadata(t *testing.T) { forEachSource(t, testTimedMetadata) }

func testTimedMetadata(t *testing.T, frames []frame, v VideoTrack, a *AudioTrack, container string) {
	m, err := New(Config{LowLatency: true, Container: container, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	payloads := [][]byte{[]byte(`{"question":"2+2?"}`), []byte("ünïcødé ✓")}
	feed(t, m, frames, 1, func(i int) {
		switch i {
		case 40:
			m.Metadata(ID3(payloads[0]))
		case 200:
			m.Metadata(ID3(payloads[1]))
		}
	})
	m.Close()
	var all []byte
	if init := m.Init(); init != nil {
		all = append(all, init...)
	}
	m.mu.Lock()
	for _, s := range m.segments {
		for _, p := range s.Parts {
			all = append(all, p.Data...)
		}
	}
	m.mu.Unlock()
	var got [][]byte
	if container == ContainerTS {
		heartbeats := 0
		for _, tag := range tsID3(t, all) {
			if _, ok := TXXX(tag); ok {
				got = append(got, tag)
			} else if bytes.Contains(tag, []byte("PRIV"+string([]byte{0, 0, 0, 24, 0, 0})+segmentID3Owner)) {
				heartbeats++
			}
		}
		m.mu.Lock()
		segs := len(m.segments)
		m.mu.Unlock()
		if heartbeats != segs {
			t.Errorf("%d ID3 heartbeats for %d segments: every TS segment must carry data on the ID3 stream (the IVS player waits for it)", heartbeats, segs)
		}
	} else {
		got = emsgID3(t, all)
	}
	if len(got) != 2 {
		t.Fatalf("found %d ID3 tags, want 2", len(got))
	}
	for i, tag := range got {
		val, ok := TXXX(tag)
		if !ok || !bytes.Equal(val, payloads[i]) {
			t.Errorf("cue %d carries %q, want %q", i, val, payloads[i])
		}
	}
	if container == ContainerTS {
		// ffprobe recognises the stream as timed ID3
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "all.ts"), all, 0o644)
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", filepath.Join(dir, "all.ts")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "timed_id3") {
			t.Errorf("ffprobe does not see a timed_id3 stream: %v %s", err, out)
		}
	}
}

func tsID3(t *testing.T, data []byte) [][]byte {
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data))
	var tags [][]byte
	for {
		d, err := dmx.NextData()
		if err != nil {
			break
		}
		if d.PES != nil && d.PID == pidID3 {
			tags = append(tags, d.PES.Data)
		}
	}
	return tags
}

func emsgID3(t *testing.T, data []byte) [][]byte {
	var tags [][]byte
	_, err := amp4.ReadBoxStructure(bytes.NewReader(data), func(h *amp4.ReadHandle) (any, error) {
		if h.BoxInfo.Type == amp4.BoxTypeEmsg() {
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			e := box.(*amp4.Emsg)
			if e.Timescale != videoTimescale || (e.Version == 1) != (e.SchemeIdUri == emsgID3Scheme) {
				t.Errorf("emsg %+v", e)
			}
			switch e.SchemeIdUri {
			case emsgID3Scheme: // hls.js and CMAF players
				tags = append(tags, e.MessageData)
			case emsgTwitchID3Scheme: // the IVS player: the same tag, right after
				if len(tags) == 0 || !bytes.Equal(tags[len(tags)-1], e.MessageData) {
					t.Errorf("IVS-player emsg without its aomedia twin")
				}
			default:
				t.Errorf("emsg scheme %q", e.SchemeIdUri)
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

func TestID3RoundTrip(t *testing.T) {
	for _, p := range []string{"", "x", strings.Repeat("é", 600)} {
		v, ok := TXXX(ID3([]byte(p)))
		if !ok || string(v) != p {
			t.Errorf("TXXX(ID3(%q)) = %q %v", p, v, ok)
		}
	}
	if _, ok := TXXX([]byte("ID3\x04\x00\x00\x00\x00\x00\x7fTXXX")); ok {
		t.Error("truncated tag accepted")
	}
}

func TestSpliceInsertMatchesTheSCTE35Sample(t *testing.T) {
	// SCTE 35 (2019) section 14.2, "splice_insert": the spec's sample, with its avail_descriptor.
	want := "FC302F000000000000FFFFF014054800008F7FEFFE7369C02EFE0052CCF500000000000A0008435545490000013562DBA30A"
	got := fmt.Sprintf("%X", SpliceInsert{EventID: 0x4800008F, PTS: 0x07369C02E, Duration: 0x00052CCF5,
		Descriptors: []byte{0x00, 0x08, 'C', 'U', 'E', 'I', 0x00, 0x00, 0x01, 0x35}}.Marshal())
	if got != want {
		t.Errorf("splice_insert\n got %s\nwant %s", got, want)
	}
}

func TestMuxerAdBreakMarkers(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 2, func(i int) {
		if i == 50 { // during the second segment
			m.AdBreak("ad1", 2*time.Second)
		}
	})
	pl := string(m.MediaPlaylist(RelativeURLs{Ext: "ts"}, false))
	if _, err := playlist.Unmarshal([]byte(pl)); err != nil {
		t.Fatalf("playlist with ad markers does not parse: %v\n%s", err, pl)
	}
	i := strings.Index(pl, `#EXT-X-DATERANGE:ID="ad1",START-DATE="`)
	out := strings.Index(pl, "#EXT-X-CUE-OUT:DURATION=2.000")
	cont := strings.Index(pl, "#EXT-X-CUE-OUT-CONT:ElapsedTime=1.000,Duration=2.000")
	in := strings.Index(pl, "#EXT-X-CUE-IN")
	if i < 0 || out < i || cont < out || in < cont || !strings.Contains(pl, "PLANNED-DURATION=2.000,SCTE35-OUT=0xFC") {
		t.Fatalf("ad break markers missing or out of order:\n%s", pl)
	}
	// the break starts at a segment boundary: the DATERANGE's START-DATE is that segment's date-time
	dr := pl[i:]
	start := dr[strings.Index(dr, `START-DATE="`)+12:]
	start = start[:strings.Index(start, `"`)]
	if !strings.Contains(pl[out:], "#EXT-X-PROGRAM-DATE-TIME:"+start) {
		t.Errorf("the break's START-DATE %s is not the next segment's date-time:\n%s", start, pl)
	}
}

func TestMuxerStreamsPrefetchSegments(t *testing.T) {
	// The IVS player fetches EXT-X-TWITCH-PREFETCH segments before they exist; they arrive part by part and
	// add up to the segment.
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames[:len(frames)/3], 1, nil)
	pl := string(m.MediaPlaylist(RelativeURLs{Ext: "ts"}, false))
	m.mu.Lock()
	next := m.nextMSN
	m.mu.Unlock()
	if !strings.Contains(pl, fmt.Sprintf("#EXT-X-TWITCH-PREFETCH:%d.ts\n", next)) {
		t.Fatalf("no prefetch of the next segment %d:\n%s", next, pl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		data   []byte
		chunks int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		r.err = m.StreamSegment(ctx, next, func(b []byte) error { r.data = append(r.data, b...); r.chunks++; return nil })
		got <- r
	}()
	feed(t, m, frames[len(frames)/3:], 1, nil)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	seg, ok := m.Segment(next)
	if !ok {
		t.Fatal("the prefetched segment is not complete")
	}
	var whole []byte
	for _, p := range seg.Parts {
		whole = append(whole, p.Data...)
	}
	if !bytes.Equal(r.data, whole) || r.chunks != len(seg.Parts) || r.chunks < 2 {
		t.Errorf("streamed %d bytes in %d chunks; the segment has %d bytes in %d parts", len(r.data), r.chunks, len(whole), len(seg.Parts))
	}
	if err := m.StreamSegment(ctx, next+10, func([]byte) error { return nil }); !errors.Is(err, ErrTooFar) {
		t.Errorf("prefetch far ahead: %v", err)
	}
}

func TestMultivariantIVSForm(t *testing.T) {
	got := string(Multivariant([]Rendition{
		{Name: "720p60", URL: "a.m3u8", Bandwidth: 3002999, Codecs: "avc1.4D401F,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 60},
		{Name: "360p30", URL: "b.m3u8", Bandwidth: 700000, Codecs: "avc1.4D401F,mp4a.40.2", Width: 640, Height: 360, FrameRate: 30},
	}, true))
	want := `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="720p60",NAME="720p60",AUTOSELECT=YES,DEFAULT=YES
#EXT-X-STREAM-INF:BANDWIDTH=3002999,CODECS="avc1.4D401F,mp4a.40.2",RESOLUTION=1280x720,VIDEO="720p60",FRAME-RATE=60.000
a.m3u8
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="360p30",NAME="360p",AUTOSELECT=YES,DEFAULT=YES
#EXT-X-STREAM-INF:BANDWIDTH=700000,CODECS="avc1.4D401F,mp4a.40.2",RESOLUTION=640x360,VIDEO="360p30",FRAME-RATE=30.000
b.m3u8
`
	if got != want {
		t.Errorf("multivariant:\n%s\nwant (IVS's observed form):\n%s", got, want)
	}
	if _, err := playlist.Unmarshal([]byte(got)); err != nil {
		t.Errorf("gohlslib: %v", err)
	}
}

func TestMuxerProgramDateTimeNotInTheFuture(t *testing.T) {
	// The first seconds arrive in a burst (the RTMP reader holds them while it finds the tracks): program
	// date-times must not run ahead of the clock; with Origin they start at it.
	frames, v, a := fixture(t)
	clock := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC) // the burst arrives 10 s after publishing started
	origin := clock.Add(-10 * time.Second)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a, Origin: origin, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 1, nil) // all at once, at `clock`
	m.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if first := m.segments[0].Start; !first.Equal(origin) {
		t.Errorf("first date-time %v, want the origin %v (without it they would run ahead of the clock)", first, origin)
	}
	for i, s := range m.segments[1:] {
		prev := m.segments[i]
		if !s.Start.Equal(prev.Start.Add(prev.Duration)) {
			t.Errorf("segment %d's date-time %v does not follow the previous one's (%v + %v)", s.MSN, s.Start, prev.Start, prev.Duration)
		}
	}
}

// TestMuxerHEVC: HEVC is packaged in fMP4 with an hvc1 sample entry holding the parameter sets, its IRAP pictures
// as the sync samples that start segments, and presentation times that survive B-frames; MPEG-TS refuses it.
func TestMuxerHEVC(t *testing.T) {
	frames, v, a := hevcFixture(t)
	if _, err := New(Config{Container: ContainerTS, Video: v, Audio: a}); err == nil || !strings.Contains(err.Error(), "HEVC") {
		t.Fatalf("HEVC in MPEG-TS: %v, want a refusal", err)
	}
	m, err := New(Config{LowLatency: true, Container: ContainerFMP4, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	var hvcC *amp4.HvcC
	var entries []string
	_, err = amp4.ReadBoxStructure(bytes.NewReader(m.Init()), func(h *amp4.ReadHandle) (any, error) {
		switch h.BoxInfo.Type {
		case amp4.BoxTypeHvc1(), amp4.BoxTypeAvc1(), amp4.BoxTypeMp4a():
			entries = append(entries, h.BoxInfo.Type.String())
		case amp4.BoxTypeHvcC():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			hvcC = box.(*amp4.HvcC)
			return nil, nil
		}
		if h.BoxInfo.IsSupportedType() {
			return h.Expand()
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(entries, ",") != "hvc1,mp4a" || hvcC == nil {
		t.Fatalf("init section sample entries %v, hvcC %v", entries, hvcC != nil)
	}
	// x265's Main SPS: progressive and frame-only source (0x90), main tier, profile space 0 (hvc1.1.6.L60.90)
	if hvcC.GeneralConstraintIndicator != [6]uint8{0x90} || hvcC.GeneralTierFlag || hvcC.GeneralProfileSpace != 0 {
		t.Errorf("hvcC constraint indicator % x, tier %v, profile space %d: not the SPS's", hvcC.GeneralConstraintIndicator,
			hvcC.GeneralTierFlag, hvcC.GeneralProfileSpace)
	}
	params := map[uint8][]byte{}
	for _, arr := range hvcC.NaluArrays {
		for _, n := range arr.Nalus {
			params[arr.NaluType] = n.NALUnit
		}
	}
	if !bytes.Equal(params[32], v.VPS) || !bytes.Equal(params[33], v.SPS) || !bytes.Equal(params[34], v.PPS) ||
		hvcC.GeneralProfileIdc != 1 || hvcC.GeneralLevelIdc != 60 {
		t.Errorf("hvcC: profile %d level %d, parameter sets match: VPS %v SPS %v PPS %v", hvcC.GeneralProfileIdc, hvcC.GeneralLevelIdc,
			bytes.Equal(params[32], v.VPS), bytes.Equal(params[33], v.SPS), bytes.Equal(params[34], v.PPS))
	}

	feed(t, m, frames, 1, nil)
	m.Close()
	dir := t.TempDir()
	dump(t, m, dir, false)
	out, err := exec.Command("ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-select_streams", "v:0",
		"-show_entries", "packet=pts,flags", "-of", "csv=p=0", filepath.Join(dir, "playlist.m3u8")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var pts []int
	keys := 0
	for _, line := range strings.Fields(string(out)) {
		f := strings.Split(line, ",")
		p, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 2 {
			t.Fatalf("ffprobe packet line %q", line)
		}
		pts = append(pts, p)
		if strings.Contains(f[1], "K") {
			keys++
		}
	}
	if keys != 5 {
		t.Errorf("%d sync samples in 4.2 s with a keyframe every second, want 5", keys)
	}
	sorted := slices.Clone(pts)
	slices.Sort(sorted)
	if slices.Equal(sorted, pts) {
		t.Error("presentation times in decode order: the B-frames' composition offsets are lost")
	}
	for i := 1; i < len(sorted); i++ {
		if d := sorted[i] - sorted[i-1]; d < 2990 || d > 3010 {
			t.Fatalf("presentation times %d and %d are %d ticks apart, want 3000 (30 fps at 90 kHz)", sorted[i-1], sorted[i], d)
		}
	}
}

// BenchmarkMuxerFMP4 packages the 4.2 s fixtures as LL-HLS fMP4: the cost per second of media, H.264 against HEVC.
func BenchmarkMuxerFMP4(b *testing.B) {
	for _, src := range sources {
		frames, v, a := src.read(b)
		b.Run(src.name, func(b *testing.B) {
			for b.Loop() {
				m, err := New(Config{LowLatency: true, Container: ContainerFMP4, Video: v, Audio: a})
				if err != nil {
					b.Fatal(err)
				}
				feed(b, m, frames, 1, nil)
				m.Close()
			}
		})
	}
}

// TestMuxerFollow: a rendition that follows another (a transcoded rung following the source) and receives the
// same frames late starts at one of the source's segment boundaries and from there has the source's segments:
// same sequence numbers, timeline, durations and date-times, and the same ad markers; in both latency modes (in
// NORMAL, segments of 2 s from a source with a keyframe every second: the first segment followed lasts 2 s too).
func TestMuxerFollow(t *testing.T) {
	for _, ll := range []bool{true, false} {
		t.Run(fmt.Sprintf("ll=%v", ll), func(t *testing.T) { testFollow(t, ll) })
	}
}

func testFollow(t *testing.T, ll bool) {
	frames, v, a := fixture(t)
	var clock time.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	src, err := New(Config{LowLatency: ll, Container: ContainerTS, Video: v, Audio: a, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	rung, err := New(Config{LowLatency: ll, Container: ContainerFMP4, Video: v, Audio: a, Now: now, Follow: src})
	if err != nil {
		t.Fatal(err)
	}
	const lag = 12 // frames: the transcoder's delay
	var all []frame
	for l := range 3 {
		off := time.Duration(l) * 4200 * time.Millisecond
		for _, f := range frames {
			f.pts, f.dts = f.pts+off, f.dts+off
			all = append(all, f)
		}
	}
	write := func(m *Muxer, f frame) {
		if f.video {
			if err := m.WriteVideo(f.pts, f.dts, f.au); err != nil {
				t.Fatal(err)
			}
		} else {
			m.WriteAAC(f.pts, f.au[0])
		}
	}
	for i, f := range all {
		clock = clock.Add(15 * time.Millisecond)
		write(src, f)
		if i == 100 {
			src.AdBreak("ad1", 2*time.Second)
		}
		if i >= lag {
			write(rung, all[i-lag])
		}
	}
	src.Close()
	rung.Close()
	rung.mu.Lock()
	first, last := rung.segments[0].MSN, rung.nextMSN-1 // the last one ends where the rung was closed
	rung.mu.Unlock()
	var checked int
	for msn := uint64(0); msn < 20; msn++ {
		r, ok := rung.Segment(msn)
		if !ok || !r.Complete {
			continue
		}
		s, ok := src.Segment(msn)
		if !ok {
			t.Fatalf("rung segment %d has no source segment", msn)
		}
		if r.StartDTS != s.StartDTS || !r.Start.Equal(s.Start) || (msn < last && r.Duration != s.Duration) ||
			strings.Join(r.Tags, "|") != strings.Join(s.Tags, "|") {
			t.Errorf("segment %d: rung start %v %v dur %v tags %v, source %v %v %v %v", msn, r.StartDTS, r.Start, r.Duration, r.Tags,
				s.StartDTS, s.Start, s.Duration, s.Tags)
		}
		checked++
	}
	if want := map[bool]int{true: 8, false: 4}[ll]; first == 0 || checked < want {
		t.Errorf("the rung starts at segment %d and shares %d complete segments with the source, want %d", first, checked, want)
	}
	var tagged bool
	for msn := uint64(0); msn < 20; msn++ {
		if r, ok := rung.Segment(msn); ok && len(r.Tags) > 0 {
			tagged = true
		}
	}
	if !tagged {
		t.Error("the rung has no ad markers")
	}
}

// TestTimerReuse: a pooled timer that fired before it was given back delivers nothing stale to its next user
// (Go 1.23's timer channels; the blocking requests rely on it).
func TestTimerReuse(t *testing.T) {
	for range 20 {
		a := getTimer(time.Millisecond)
		time.Sleep(3 * time.Millisecond) // it has fired; nobody received
		putTimer(a)
		b := getTimer(time.Hour) // most often a again
		select {
		case <-b.C:
			t.Fatal("a reused timer delivered its previous expiry")
		case <-time.After(5 * time.Millisecond):
		}
		putTimer(b)
	}
}
