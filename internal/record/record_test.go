package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/playback"
)

func TestKeyPrefixHasNoZeroPadding(t *testing.T) {
	got := keyPrefix("123456789012", "AsXego4U6tnj", time.Date(2020, 6, 3, 4, 5, 0, 0, time.FixedZone("x", 3600)), "j8Z9O91ndcVs")
	if want := "ivs/v1/123456789012/AsXego4U6tnj/2020/6/3/3/5/j8Z9O91ndcVs"; got != want {
		t.Errorf("keyPrefix = %q, want %q (UTC, no zero padding)", got, want)
	}
	if id := newRecordingID(); len(id) != 12 || strings.Trim(id, recordingIDAlphabet) != "" {
		t.Errorf("recording id %q", id)
	}
}

func TestThumbnailSizeAndRenditionSelection(t *testing.T) {
	for _, c := range []struct {
		w, h       int
		res        string
		wantW, wH  int
		wantClass  string
		comparison string
	}{
		{1280, 720, "SD", 852, 480, "HD", "scaled down to 480 lines, even width"},
		{1920, 1080, "LOWEST_RESOLUTION", 284, 160, "FULL_HD", "the lowest rung"},
		{640, 360, "HD", 640, 360, "LOWEST_RESOLUTION", "never scaled up"},
		{1280, 720, "", 1280, 720, "HD", "the source's size"},
	} {
		if w, h := thumbnailSize(c.w, c.h, c.res); w != c.wantW || h != c.wH {
			t.Errorf("thumbnailSize(%d, %d, %q) = %dx%d, want %dx%d (%s)", c.w, c.h, c.res, w, h, c.wantW, c.wH, c.comparison)
		}
		if got := class(c.w, c.h); got != c.wantClass {
			t.Errorf("class(%d, %d) = %s, want %s", c.w, c.h, got, c.wantClass)
		}
	}
	rs := []hls.Rendition{{Name: "1080p30", Width: 1920, Height: 1080}, {Name: "720p30", Width: 1280, Height: 720}, {Name: "360p30", Width: 640, Height: 360}}
	for _, c := range []struct {
		sel     string
		classes []string
		want    []int
	}{
		{"ALL", nil, []int{0, 1, 2}},
		{"", nil, []int{0, 1, 2}},
		{"NONE", nil, nil},
		{"CUSTOM", []string{"HD", "LOWEST_RESOLUTION"}, []int{1, 2}},
		{"CUSTOM", []string{"SD"}, []int{2}},      // none of that class: the best below it
		{"CUSTOM", []string{"FULL_HD"}, []int{0}}, // exact
		{"CUSTOM", []string{"SD"}, []int{2}},      // repeated on purpose: stable
		{"CUSTOM", []string{"LOWEST_RESOLUTION"}, []int{2}},
	} {
		if got := selectRenditions(c.sel, c.classes, rs); !slices.Equal(got, c.want) {
			t.Errorf("selectRenditions(%s, %v) = %v, want %v", c.sel, c.classes, got, c.want)
		}
	}
	if got := selectRenditions("CUSTOM", []string{"SD"}, rs[:2]); !slices.Equal(got, []int{1}) {
		t.Errorf("CUSTOM SD of 1080p and 720p: %v, want the smallest (720p)", got)
	}
}

func TestMediaPlaylists(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC)
	segs := []fileSegment{
		{name: "0.mp4", init: "init.mp4", start: t0, dur: 2 * time.Second,
			ranges: []byteRange{{0, 100, time.Second}, {100, 50, time.Second}}},
		{name: "1.mp4", init: "init-1.mp4", start: t0.Add(5 * time.Second), dur: 1500 * time.Millisecond, disc: true,
			ranges: []byteRange{{0, 70, 1500 * time.Millisecond}}},
	}
	want := `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.600Z
#EXTINF:2.000,
0.mp4
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:10.600Z
#EXTINF:1.500,
1.mp4
#EXT-X-ENDLIST
`
	if got := string(mediaPlaylist(segs, true, true, false)); got != want {
		t.Errorf("fMP4 playlist:\n%s\nwant\n%s", got, want)
	}
	want = `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.600Z
#EXTINF:1.000,
#EXT-X-BYTERANGE:100@0
0.mp4
#EXTINF:1.000,
#EXT-X-BYTERANGE:50@100
0.mp4
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:10.600Z
#EXTINF:1.500,
#EXT-X-BYTERANGE:70@0
1.mp4
`
	if got := string(mediaPlaylist(segs, false, false, true)); got != want {
		t.Errorf("TS byte-range playlist while recording:\n%s\nwant\n%s", got, want)
	}
}

// flaky is a directory destination that fails while down is set.
type flaky struct {
	Dir
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flaky) Put(ctx context.Context, bucket, key, ctype string, body []byte) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Dir.Put(ctx, bucket, key, ctype, body)
}

// collected gathers published events.
type collected struct {
	mu  sync.Mutex
	evs []events.Event
}

func (c *collected) Publish(_ context.Context, e events.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	return nil
}

func (c *collected) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n []string
	for _, e := range c.evs {
		n = append(n, e.EventName())
	}
	return n
}

func (c *collected) wait(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !slices.Equal(c.names(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("events %v, want %v", c.names(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// harness is a recorder writing to a flaky directory and a stream of one TS rendition to record.
type harness struct {
	dest *flaky
	evs  *collected
	rec  *Recorder
	reg  *live.Registry
	cfg  *live.Recording
}

func newHarness(t *testing.T, cfg Config, rc live.Recording) *harness {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bkt"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{dest: &flaky{Dir: Dir{Root: root}}, evs: &collected{}}
	cfg.Dest, cfg.Events, cfg.Log = h.dest, h.evs, slog.New(slog.DiscardHandler)
	h.rec = New(cfg)
	h.reg = live.NewRegistry(live.DefaultLimits, nil, cfg.Log)
	t.Cleanup(h.reg.Close)
	rc.Bucket, rc.State, rc.ARN = "bkt", "ACTIVE", "arn:aws:ivs:us-west-2:123456789012:recording-configuration/rc"
	h.cfg = &rc
	return h
}

// stream starts a stream and its recording.
func (h *harness) stream(t *testing.T) (*live.Stream, feeder) {
	t.Helper()
	ls, err := h.reg.Begin(live.Channel{ARN: "arn:aws:ivs:us-west-2:123456789012:channel/abcdefABCDEF", Account: "123456789012",
		Region: "us-west-2", ID: "abcdefABCDEF", Name: "ch", Recording: h.cfg}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	m, err := hls.New(hls.Config{Container: hls.ContainerTS})
	if err != nil {
		t.Fatal(err)
	}
	r := h.rec.Record(ls, []playback.RecordRendition{{Rendition: hls.Rendition{Name: "360p30", Width: 640, Height: 360,
		Codecs: "avc1.64001E"}, Muxer: m}})
	if r == nil {
		t.Fatal("Record returned nil for a channel with an active recording configuration")
	}
	return ls, feeder{r}
}

// feeder feeds a recording synthetic segments.
type feeder struct{ r playback.Recording }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func (p feeder) segments(from, n, size int) {
	for i := from; i < from+n; i++ {
		p.r.Segment(0, &hls.Segment{MSN: uint64(i), Start: t0.Add(time.Duration(i) * time.Second), Duration: time.Second,
			Complete: true, Size: size, Parts: []*hls.Part{{Duration: time.Second, Data: bytes.Repeat([]byte{byte(i)}, size)}}})
	}
}

// prefix is the recording's prefix, from its Recording Start event.
func (h *harness) prefix(t *testing.T) string {
	t.Helper()
	h.evs.mu.Lock()
	defer h.evs.mu.Unlock()
	var d struct {
		P string `json:"recording_s3_key_prefix"`
	}
	if len(h.evs.evs) == 0 || json.Unmarshal(h.evs.evs[0].Detail, &d) != nil || d.P == "" {
		t.Fatalf("no Recording Start event with a prefix")
	}
	return d.P
}

func (h *harness) manifest(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dest.Root, "bkt", h.prefix(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordingRidesOutAnOutage: writes that fail are retried, in order, until they succeed; nothing is lost.
func TestRecordingRidesOutAnOutage(t *testing.T) {
	h := newHarness(t, Config{SegmentTarget: 3 * time.Second, MaxOutage: time.Minute}, live.Recording{})
	_, p := h.stream(t)
	h.evs.wait(t, events.RecordingStartName)
	h.dest.down.Store(true)
	p.segments(0, 9, 1000) // three recorded segments while the destination is down
	time.Sleep(700 * time.Millisecond)
	if h.dest.calls.Load() < 2 {
		t.Errorf("%d writes tried during the outage, want retries", h.dest.calls.Load())
	}
	h.dest.down.Store(false)
	p.r.End()
	h.evs.wait(t, events.RecordingStartName, events.RecordingEndName)
	m := h.manifest(t, "recording-ended.json")
	if d := m["media"].(map[string]any)["hls"].(map[string]any)["duration_ms"]; d != float64(9000) {
		t.Errorf("duration_ms %v, want 9000", d)
	}
	dir := filepath.Join(h.dest.Root, "bkt", h.prefix(t), "media", "hls", "360p30")
	for i, want := range []byte{0, 3, 6} {
		b, err := os.ReadFile(filepath.Join(dir, string(rune('0'+i))+".ts"))
		if err != nil || len(b) != 3000 || b[0] != want || b[2999] != want+2 {
			t.Errorf("segment %d: %d bytes, err %v", i, len(b), err)
		}
	}
	pl, _ := os.ReadFile(filepath.Join(dir, "playlist.m3u8"))
	if !strings.Contains(string(pl), "2.ts\n#EXT-X-ENDLIST") {
		t.Errorf("playlist:\n%s", pl)
	}
	h.rec.Close(context.Background())
}

// TestRecordingFailsBeyondItsBound: when more is unwritten than the bound, the recording fails: the failure event
// at once, recording-failed.json once the destination is back, and later segments are ignored.
func TestRecordingFailsBeyondItsBound(t *testing.T) {
	h := newHarness(t, Config{SegmentTarget: 2 * time.Second, MaxBuffered: 5000, MaxOutage: time.Minute}, live.Recording{})
	ls, p := h.stream(t)
	h.evs.wait(t, events.RecordingStartName)
	h.dest.down.Store(true)
	p.segments(0, 6, 1000) // 2000 + 2000 + playlists, then the third segment passes 5000 bytes
	h.evs.wait(t, events.RecordingStartName, events.RecordingEndFailureName)
	h.dest.down.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(h.dest.Root, "bkt", h.prefix(t), "events", "recording-failed.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("recording-failed.json not written after the destination came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := h.manifest(t, "recording-failed.json")
	if m["recording_status"] != "RECORDING_ENDED_WITH_FAILURE" || m["recording_status_message"] != "InternalServerException" {
		t.Errorf("recording-failed.json: %v", m)
	}
	p.segments(6, 4, 1000)
	p.r.End()
	ls.End("test")
	h.rec.Close(context.Background())
	if got := h.evs.names(); !slices.Equal(got, []string{events.RecordingStartName, events.RecordingEndFailureName}) {
		t.Errorf("events %v: nothing may follow the failure", got)
	}
}

// TestCloseEndsWaitingRecordings: at shutdown, a recording in its reconnect window ends at once.
func TestCloseEndsWaitingRecordings(t *testing.T) {
	h := newHarness(t, Config{SegmentTarget: 2 * time.Second}, live.Recording{ReconnectWindow: time.Hour})
	_, p := h.stream(t)
	p.segments(0, 3, 100)
	p.r.End()
	time.Sleep(100 * time.Millisecond)
	if got := h.evs.names(); !slices.Equal(got, []string{events.RecordingStartName}) {
		t.Errorf("in the window: events %v", got)
	}
	done := make(chan struct{})
	go func() { h.rec.Close(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if got := h.evs.names(); !slices.Equal(got, []string{events.RecordingStartName, events.RecordingEndName}) {
		t.Errorf("after Close: events %v", got)
	}
}

// TestCutThumbnail: ffmpeg decodes a segment's first frame into a JPEG of the asked size.
func TestCutThumbnail(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg is required (scripts/test.sh installs it)")
	}
	seg, err := os.ReadFile("../hls/testdata/source.ts")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cutThumbnail(context.Background(), ffmpeg, seg, false, 96, 54)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X != 96 || s.Y != 54 {
		t.Errorf("thumbnail %v, want 96x54", s)
	}
	if _, err := cutThumbnail(context.Background(), ffmpeg, []byte("not a video"), false, 96, 54); err == nil {
		t.Error("garbage made a thumbnail")
	}
}

// TestRecordingTranscodedRenditions: on a transcoded channel the recorder records the ladder's renditions, which
// it learns of late (Track), whose segments may pause (a discontinuity) and whose encoder may be replaced (another
// discontinuity); a source that is not one of the ladder's renditions is not recorded but times the recording, and
// a rendition that never sent anything is left out of the playlists and the final manifest.
func TestRecordingTranscodedRenditions(t *testing.T) {
	h := newHarness(t, Config{SegmentTarget: 2 * time.Second}, live.Recording{RenditionSelection: "ALL"})
	ls, err := h.reg.Begin(live.Channel{ARN: "arn:aws:ivs:us-west-2:123456789012:channel/abcdefABCDEF", Account: "123456789012",
		Region: "us-west-2", ID: "abcdefABCDEF", Name: "ch", Recording: h.cfg}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	muxer := func() *hls.Muxer {
		m, err := hls.New(hls.Config{Container: hls.ContainerTS})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	offered := []playback.RecordRendition{
		{Rendition: hls.Rendition{Name: "720p30-source", Width: 1280, Height: 720, Codecs: "avc1.64001F,mp4a.40.2"}, Muxer: muxer(), NotRecorded: true},
		{Rendition: hls.Rendition{Name: "720p30", Width: 1280, Height: 720, FrameRate: 30}, Transcoded: true},
		{Rendition: hls.Rendition{Name: "480p30", Width: 852, Height: 480, FrameRate: 30}, Transcoded: true},
		{Rendition: hls.Rendition{Name: "160p30", Width: 284, Height: 160, FrameRate: 30}, Transcoded: true},
	}
	r := h.rec.Record(ls, offered)
	if r == nil {
		t.Fatal("not recorded")
	}
	seg := func(i, msn int) {
		r.Segment(i, &hls.Segment{MSN: uint64(msn), Start: t0.Add(time.Duration(msn) * time.Second), Duration: time.Second,
			Complete: true, Size: 10, Parts: []*hls.Part{{Duration: time.Second, Data: bytes.Repeat([]byte{byte(msn)}, 10)}}})
	}
	r.Track(1, muxer(), "avc1.4D401F,mp4a.40.2")
	m480 := muxer()
	r.Track(2, m480, "avc1.4D401E,mp4a.40.2")
	r.Track(2, m480, "avc1.4D401E,mp4a.40.2") // again with the same muxer: nothing changes
	for msn := range 10 {
		seg(0, msn)
		seg(2, msn)
		switch {
		case msn < 3 || msn == 5 || msn == 6: // 3 and 4 missing: the transcoder was down
			seg(1, msn)
		case msn == 7:
			seg(1, msn)
			r.Track(1, muxer(), "avc1.4D401F,mp4a.40.2") // restarted
		case msn > 7:
			seg(1, msn)
		}
	}
	r.End()
	h.evs.wait(t, events.RecordingStartName, events.RecordingEndName)
	root := filepath.Join(h.dest.Root, "bkt", h.prefix(t))
	m := h.manifest(t, "recording-ended.json")
	hlsm := m["media"].(map[string]any)["hls"].(map[string]any)
	if d := hlsm["duration_ms"]; d != float64(10000) {
		t.Errorf("duration_ms %v, want 10000 (the longest recorded rendition, 480p30)", d)
	}
	var paths []string
	for _, rd := range hlsm["renditions"].([]any) {
		paths = append(paths, rd.(map[string]any)["path"].(string))
	}
	if !slices.Equal(paths, []string{"720p30", "480p30"}) {
		t.Errorf("renditions %v, want the two transcoded ones that sent segments", paths)
	}
	if _, err := os.Stat(filepath.Join(root, "media", "hls", "720p30-source")); err == nil {
		t.Error("the source, not a rendition of the ladder, was recorded")
	}
	master, _ := os.ReadFile(filepath.Join(root, "media", "hls", "master.m3u8"))
	if s := string(master); !strings.Contains(s, `CODECS="avc1.4D401F,mp4a.40.2",RESOLUTION=1280x720`) ||
		!strings.Contains(s, `CODECS="avc1.4D401E,mp4a.40.2",RESOLUTION=852x480`) || strings.Contains(s, "160p30") {
		t.Errorf("master.m3u8:\n%s", s)
	}
	pl, _ := os.ReadFile(filepath.Join(root, "media", "hls", "720p30", "playlist.m3u8"))
	want := "0.ts\n#EXTINF:1.000,\n1.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-22T12:00:05.000Z\n" +
		"#EXTINF:2.000,\n2.ts\n#EXTINF:1.000,\n3.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-22T12:00:08.000Z\n" +
		"#EXTINF:2.000,\n4.ts\n#EXT-X-ENDLIST\n"
	if !strings.HasSuffix(string(pl), want) {
		t.Errorf("720p30/playlist.m3u8:\n%s\nwant it to end with\n%s", pl, want)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "media", "hls", "720p30", "2.ts")); !bytes.Equal(b, append(bytes.Repeat([]byte{5}, 10), bytes.Repeat([]byte{6}, 10)...)) {
		t.Errorf("720p30/2.ts = %v, want segments 5 and 6", b)
	}
	pl, _ = os.ReadFile(filepath.Join(root, "media", "hls", "480p30", "playlist.m3u8"))
	if strings.Contains(string(pl), "DISCONTINUITY") || !strings.Contains(string(pl), "4.ts\n#EXT-X-ENDLIST") {
		t.Errorf("480p30/playlist.m3u8 (continuous, 5 segments):\n%s", pl)
	}
	h.rec.Close(context.Background())
}

// TestRecordingCustomSelectionSkipsTheSource: CUSTOM picks among the ladder's renditions only.
func TestRecordingCustomSelectionSkipsTheSource(t *testing.T) {
	h := newHarness(t, Config{SegmentTarget: time.Second}, live.Recording{RenditionSelection: "CUSTOM", Renditions: []string{"HD"}})
	ls, err := h.reg.Begin(live.Channel{ARN: "arn:aws:ivs:us-west-2:123456789012:channel/abcdefABCDEF", Account: "123456789012",
		Region: "us-west-2", ID: "abcdefABCDEF", Name: "ch", Recording: h.cfg}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := hls.New(hls.Config{Container: hls.ContainerTS})
	r := h.rec.Record(ls, []playback.RecordRendition{
		{Rendition: hls.Rendition{Name: "720p30-source", Width: 1280, Height: 720}, Muxer: src, NotRecorded: true},
		{Rendition: hls.Rendition{Name: "720p30", Width: 1280, Height: 720}, Transcoded: true},
		{Rendition: hls.Rendition{Name: "480p30", Width: 852, Height: 480}, Transcoded: true},
	})
	h.evs.wait(t, events.RecordingStartName)
	m := h.manifest(t, "recording-started.json")
	rs := m["media"].(map[string]any)["hls"].(map[string]any)["renditions"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["path"] != "720p30" {
		t.Errorf("renditions %v, want the transcoded 720p30 only", rs)
	}
	r.End()
	h.rec.Close(context.Background())
}
