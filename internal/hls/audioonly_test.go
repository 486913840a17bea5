package hls

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amp4 "github.com/abema/go-mp4"
	"github.com/asticode/go-astits"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// TestMuxerAudioOnly: an audio-only rendition following the source (the transcoder's audio-only rung), in both
// containers and both latency modes, with its audio arriving after the source's frames (the transcoder's delay)
// or before them, has the source's segments: the same sequence numbers, start times, durations, date-times, ad
// markers and timed metadata; each segment begins with the first AAC frame at or after the source's boundary;
// parts stay within the part target; and ffprobe decodes its playlist as AAC alone, every frame of it.
func TestMuxerAudioOnly(t *testing.T) {
	frames, v, a := fixture(t)
	for _, container := range []string{ContainerTS, ContainerFMP4} {
		for _, ll := range []bool{true, false} {
			for _, lag := range []int{12, -12} {
				t.Run(fmt.Sprintf("%s/ll=%v/lag=%d", container, ll, lag), func(t *testing.T) {
					testAudioOnly(t, frames, v, a, container, ll, lag)
				})
			}
		}
	}
}

func testAudioOnly(t *testing.T, frames []frame, v VideoTrack, a *AudioTrack, container string, ll bool, lag int) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	srcSegs := map[uint64]*Segment{}
	var segs []*Segment // the audio-only rendition's, all of them
	src, err := New(Config{LowLatency: ll, Container: container, Video: v, Audio: a, Now: now,
		OnSegment: func(s *Segment) { srcSegs[s.MSN] = s }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Container: container, Audio: a, AudioOnly: true}); err == nil {
		t.Fatal("an audio-only rendition without a rendition to follow was accepted")
	}
	ao, err := New(Config{LowLatency: ll, Container: container, Video: v, Audio: a, Now: now, Follow: src, AudioOnly: true,
		OnSegment: func(s *Segment) { segs = append(segs, s) }})
	if err != nil {
		t.Fatal(err)
	}
	var all []frame
	for l := range 3 {
		off := time.Duration(l) * 4200 * time.Millisecond
		for _, f := range frames {
			f.pts, f.dts = f.pts+off, f.dts+off
			all = append(all, f)
		}
	}
	tag := ID3([]byte(`{"audio":"only"}`))
	writeAudio := func(j int) {
		if j >= 0 && j < len(all) && !all[j].video {
			ao.WriteAAC(all[j].pts, all[j].au[0])
		}
	}
	for i, f := range all {
		clock = clock.Add(15 * time.Millisecond)
		if f.video {
			if err := src.WriteVideo(f.pts, f.dts, f.au); err != nil {
				t.Fatal(err)
			}
			if err := ao.WriteVideo(f.pts, f.dts, f.au); err != nil { // ignored: it has no video
				t.Fatal(err)
			}
		} else {
			src.WriteAAC(f.pts, f.au[0])
		}
		switch i {
		case 200:
			src.AdBreak("ad1", 2*time.Second)
		case 500:
			ao.MetadataAt(src.Metadata(tag), tag) // as playback does: the same point of the timeline
		}
		writeAudio(i - lag)
	}
	for j := len(all) - lag; j < len(all); j++ {
		writeAudio(j)
	}
	ao.Close()
	src.Close()

	if (ao.Init() == nil) != (container == ContainerTS) || ao.Ext() != src.Ext() {
		t.Errorf("init section %d bytes, extension %s", len(ao.Init()), ao.Ext())
	}
	rate := a.Config.SampleRate
	frameDur := time.Duration(1024 * int64(time.Second) / int64(rate))
	if len(segs) < 4 || segs[0].MSN == 0 || segs[0].MSN > 2 {
		t.Fatalf("the audio-only rendition has %d segments, from the source's first boundaries on: %+v", len(segs), segs)
	}
	for k, r := range segs {
		s, ok := srcSegs[r.MSN]
		if !ok || !r.Complete || r.MSN != segs[0].MSN+uint64(k) {
			t.Fatalf("segment %d (%d of the rendition): complete %v, in the source %v", r.MSN, k, r.Complete, ok)
		}
		last := k == len(segs)-1
		if r.StartDTS != s.StartDTS || !r.Start.Equal(s.Start) || (!last && r.Duration != s.Duration) ||
			strings.Join(r.Tags, "|") != strings.Join(s.Tags, "|") {
			t.Errorf("segment %d: audio-only start %v %v, lasts %v, tags %v; the source's %v %v %v %v", r.MSN, r.StartDTS, r.Start,
				r.Duration, r.Tags, s.StartDTS, s.Start, s.Duration, s.Tags)
		}
		var sum time.Duration
		var data []byte
		for j, p := range r.Parts {
			sum += p.Duration
			data = append(data, p.Data...)
			if !p.Independent || p.Duration > PartTarget || (j < len(r.Parts)-1 && p.Duration < PartTarget*85/100) {
				t.Errorf("segment %d part %d: %v, independent %v (part target %v)", r.MSN, j, p.Duration, p.Independent, PartTarget)
			}
		}
		if sum != r.Duration {
			t.Errorf("segment %d: parts add up to %v, the segment lasts %v", r.MSN, sum, r.Duration)
		}
		first := firstAudioTime(t, container, data, rate)
		if d := first - r.StartDTS; d < -time.Millisecond/10 || d >= frameDur {
			t.Errorf("segment %d starts at %v, its first AAC frame at %v: not the first frame at or after the boundary", r.MSN, r.StartDTS, first)
		}
		// the metadata in the same segment as in the source
		var srcData []byte
		for _, p := range s.Parts {
			srcData = append(srcData, p.Data...)
		}
		if got, want := countTag(t, container, data, tag), countTag(t, container, srcData, tag); got != want {
			t.Errorf("segment %d: %d timed metadata tags, the source's segment %d", r.MSN, got, want)
		}
	}
	var tagged bool
	for _, r := range segs {
		tagged = tagged || len(r.Tags) > 0
	}
	if !tagged {
		t.Error("no ad markers")
	}

	var total time.Duration // of the segments in the playlist
	ao.mu.Lock()
	for _, s := range ao.segments {
		total += s.Duration
	}
	ao.mu.Unlock()
	dir := t.TempDir()
	pl := dump(t, ao, dir, false)
	mp, err := playlist.Unmarshal(pl)
	if err != nil {
		t.Fatalf("gohlslib: %v\n%s", err, pl)
	}
	if ll != (mp.(*playlist.Media).PartInf != nil) {
		t.Errorf("LL-HLS %v, playlist:\n%s", ll, pl)
	}
	streams, n := probeAudio(t, filepath.Join(dir, "playlist.m3u8"))
	if !slices.Contains(streams, "audio/aac") || slices.ContainsFunc(streams, func(s string) bool { return strings.HasPrefix(s, "video/") }) {
		t.Errorf("ffprobe reads the streams %v, want AAC audio and no video", streams)
	}
	if want := int(total / frameDur); n < want-1 || n > want+1 {
		t.Errorf("ffprobe decoded %d AAC frames from %v of segments (%d frames of %v)", n, total, want, frameDur)
	}
}

// firstAudioTime is the timeline position of a segment's first audio frame.
func firstAudioTime(t *testing.T, container string, data []byte, rate int) time.Duration {
	t.Helper()
	if container == ContainerTS {
		dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data))
		for {
			d, err := dmx.NextData()
			if err != nil {
				t.Fatalf("no audio in the segment: %v", err)
			}
			if d.PES != nil && d.PID == pidAudio {
				return time.Duration(d.PES.Header.OptionalHeader.PTS.Base*int64(time.Second)/videoTimescale) - tsOffset
			}
		}
	}
	var base uint64
	found := false
	_, err := amp4.ReadBoxStructure(bytes.NewReader(data), func(h *amp4.ReadHandle) (any, error) {
		switch h.BoxInfo.Type {
		case amp4.BoxTypeTfdt():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			if tfdt := box.(*amp4.Tfdt); !found {
				base, found = tfdt.GetBaseMediaDecodeTime(), true
			}
		case amp4.BoxTypeMoof(), amp4.BoxTypeTraf():
			return h.Expand()
		}
		return nil, nil
	})
	if err != nil || !found {
		t.Fatalf("no tfdt in the segment: %v", err)
	}
	return time.Duration(int64(base) * int64(time.Second) / int64(rate))
}

// countTag counts the timed metadata tags equal to tag in media.
func countTag(t *testing.T, container string, data, tag []byte) int {
	var tags [][]byte
	if container == ContainerTS {
		tags = tsID3(t, data)
	} else {
		tags = emsgID3(t, data)
	}
	n := 0
	for _, g := range tags {
		if bytes.Equal(g, tag) {
			n++
		}
	}
	return n
}

// probeAudio decodes a playlist with ffprobe: its streams ("audio/aac", "data/timed_id3") and the audio frames.
func probeAudio(t *testing.T, path string) (streams []string, frames int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-count_frames",
		"-show_entries", "stream=codec_type,codec_name,nb_read_frames", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var p struct {
		Streams []struct {
			Type   string `json:"codec_type"`
			Name   string `json:"codec_name"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe printed %s: %v", out, err)
	}
	for _, s := range p.Streams {
		streams = append(streams, s.Type+"/"+s.Name)
		if s.Type == "audio" {
			fmt.Sscan(s.Frames, &frames)
		}
	}
	return streams, frames
}
