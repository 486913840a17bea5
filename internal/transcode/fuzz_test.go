package transcode

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/openivs/openivs/internal/hls"
)

// nopOutput checks the invariants a packager relies on, whatever the bytes: a Track before any frame.
type nopOutput struct {
	t       *testing.T
	tracked bool
}

func (o *nopOutput) Track(int, hls.VideoTrack, *hls.AudioTrack) { o.tracked = true }
func (o *nopOutput) Video(int, time.Duration, time.Duration, [][]byte) {
	if !o.tracked {
		o.t.Fatal("Video before Track")
	}
}
func (o *nopOutput) Audio(int, time.Duration, []byte) {
	if !o.tracked {
		o.t.Fatal("Audio before Track")
	}
}
func (o *nopOutput) State(bool, error) {}

// synthTS muxes a tiny H.264 + AAC stream with mediacommon's writer, with timestamps about to wrap.
func synthTS(t testing.TB) []byte {
	var buf bytes.Buffer
	vt := &mpegts.Track{Codec: &tscodecs.H264{}}
	cfg := mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2, ChannelConfig: 2} //nolint:staticcheck
	at := &mpegts.Track{Codec: &tscodecs.MPEG4Audio{Config: cfg}}
	w := &mpegts.Writer{W: &buf, Tracks: []*mpegts.Track{vt, at}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	sps := []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	pps := []byte{0x68, 0xee, 0x3c, 0x80}
	ts := int64(tsMask - 3000)
	for i := range 4 {
		au := [][]byte{{0x41, 0x9a, byte(i)}}
		if i == 0 {
			au = [][]byte{sps, pps, {0x65, 0x88, 0x84}}
		}
		p := (ts + int64(i)*3000) & tsMask
		if err := w.WriteH264(vt, p, p, au); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMPEG4Audio(at, p, [][]byte{{0x21, 0x10, byte(i)}, {0x21, 0x10}}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// FuzzDemux feeds arbitrary bytes, as ffmpeg's output pipe could carry, through the rung reader: it must not panic.
func FuzzDemux(f *testing.F) {
	f.Add(synthTS(f))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x47}, 188*2))
	f.Fuzz(func(t *testing.T, data []byte) {
		var base atomic.Int64
		base.Store(12345)
		cfg := mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 44100, ChannelCount: 2, ChannelConfig: 2} //nolint:staticcheck
		r := newRungReader(0, &nopOutput{t: t}, &announced{}, offsetTicks, &base, &hls.AudioTrack{Config: &cfg, Codec: "mp4a.40.2"}, nil)
		_ = demux(context.Background(), bytes.NewReader(data), r)
	})
}

// TestDemuxSynthetic checks the reader on a stream whose timestamps wrap the 33-bit clock.
func TestDemuxSynthetic(t *testing.T) {
	var base atomic.Int64
	rec := newRecorder()
	r := newRungReader(0, rec, &announced{}, tsMask-3000, &base, &hls.AudioTrack{Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelConfig: 2}}, nil)
	if err := demux(context.Background(), bytes.NewReader(synthTS(t)), r); err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, v := range rec.video[0] {
		got = append(got, v.pts)
	}
	want := []time.Duration{0, time.Second / 30, 2 * time.Second / 30}
	if len(got) < 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("video pts %v, want %v... across the wrap", got, want)
	}
	if len(rec.tracks[0]) != 1 || rec.tracks[0][0].Width != 352 {
		t.Errorf("tracks %+v", rec.tracks[0])
	}
	if len(rec.apts[0]) < 4 || rec.apts[0][1]-rec.apts[0][0] != 1024*time.Second/48000 {
		t.Errorf("audio pts %v", rec.apts[0])
	}
}

func TestTicksRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 33 * time.Millisecond, -7 * time.Millisecond,
		48*time.Hour + 17*time.Millisecond, 100*time.Hour + 999*time.Millisecond} {
		if got := fromTicks(toTicks(d)); got != d {
			t.Errorf("%v -> %d -> %v", d, toTicks(d), got)
		}
	}
	for ms := int64(0); ms < 200000; ms += 7 {
		d := time.Duration(ms) * time.Millisecond
		if fromTicks(toTicks(d)) != d {
			t.Fatalf("%v does not round-trip", d)
		}
	}
	for tk := int64(0); tk < 1_000_000; tk += 13 { // SRT's 90 kHz timestamps, converted to Duration by truncation
		if toTicks(fromTicks(tk)) != tk {
			t.Fatalf("tick %d does not round-trip", tk)
		}
	}
	var u unwrapper
	u.last = tsMask - 10
	if got := u.unwrap(5); got != tsMask+6 {
		t.Errorf("unwrap across the wrap: %d", got)
	}
	if got := u.unwrap(tsMask - 20); got != tsMask-20 {
		t.Errorf("unwrap back across the wrap: %d", got)
	}
}
