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
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// TestMuxerAudioOnly: an audio-only rendition following the source (the transcoder's audio-only rung), in both
// containers and both latency modes, with its audio arriving after the source's frames (the transcoder's delay)
// or before them, has the source's segments: the same sequence numbers, start times, durations, date-times, ad
// markers and timed metadata; each segment begins with the first AAC frame at or after the source's boundary;
// parts stay within the part target; no frame is lost or repeated; and ffprobe decodes its playlist as AAC alone,
// every frame of it.
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
	rate := a.Config.SampleRate
	frameDur := time.Duration(1024 * int64(time.Second) / int64(rate))
	var all []frame
	var audioEnd time.Duration // the fixture's audio lasts a frame longer than its video: looped, it would overlap
	for l := range 3 {
		off := time.Duration(l) * 4200 * time.Millisecond
		for _, f := range frames {
			f.pts, f.dts = f.pts+off, f.dts+off
			if !f.video {
				if f.pts < audioEnd-frameDur/2 {
					continue
				}
				audioEnd = f.pts + frameDur
			}
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
	if len(segs) < 4 || segs[0].MSN == 0 || segs[0].MSN > 2 {
		t.Fatalf("the audio-only rendition has %d segments, from the source's first boundaries on: %+v", len(segs), segs)
	}
	counts := map[uint64]int{} // AAC frames of each segment
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
		first, n := audioIn(t, container, data, rate)
		counts[r.MSN] = n
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
	published := 0
	for _, r := range segs {
		tagged = tagged || len(r.Tags) > 0
		published += counts[r.MSN]
	}
	if !tagged {
		t.Error("no ad markers")
	}
	written := 0 // the frames from the first segment's start on
	for _, f := range all {
		if !f.video && f.pts >= src.t0+segs[0].StartDTS {
			written++
		}
	}
	if published != written {
		t.Errorf("%d AAC frames in the segments, %d written from the first segment's start", published, written)
	}

	listed := 0 // AAC frames of the segments in the playlist
	ao.mu.Lock()
	for _, s := range ao.segments {
		listed += counts[s.MSN]
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
	if n != listed {
		t.Errorf("ffprobe decoded %d AAC frames from the playlist, its segments hold %d", n, listed)
	}
}

// audioIn returns the timeline position of a segment's first audio frame, and how many frames it holds.
func audioIn(t *testing.T, container string, data []byte, rate int) (first time.Duration, frames int) {
	t.Helper()
	found := false
	if container == ContainerTS {
		dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data))
		for {
			d, err := dmx.NextData()
			if err != nil {
				break
			}
			if d.PES != nil && d.PID == pidAudio {
				var pkts mpeg4audio.ADTSPackets
				if err := pkts.Unmarshal(d.PES.Data); err != nil {
					t.Fatalf("ADTS: %v", err)
				}
				if !found {
					first, found = time.Duration(d.PES.Header.OptionalHeader.PTS.Base*int64(time.Second)/videoTimescale)-tsOffset, true
				}
				frames += len(pkts)
			}
		}
	} else {
		_, err := amp4.ReadBoxStructure(bytes.NewReader(data), func(h *amp4.ReadHandle) (any, error) {
			switch h.BoxInfo.Type {
			case amp4.BoxTypeTfdt(), amp4.BoxTypeTrun():
				box, _, err := h.ReadPayload()
				if err != nil {
					return nil, err
				}
				if trun, ok := box.(*amp4.Trun); ok {
					frames += int(trun.SampleCount)
				} else if !found {
					first, found = time.Duration(int64(box.(*amp4.Tfdt).GetBaseMediaDecodeTime())*int64(time.Second)/int64(rate)), true
				}
			case amp4.BoxTypeMoof(), amp4.BoxTypeTraf():
				return h.Expand()
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatal("no audio in the segment")
	}
	return first, frames
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

// TestMuxerAudioOnlyWaitsForTheSegment: an audio-only rendition whose audio runs ahead of the followed video does
// not open a segment before the followed rendition has: the segment's ad markers are decided there, and an ad break
// inserted between a boundary keyframe and the followed rendition's first part of the segment is on both. (The
// keyframes fall 5 ms before an AAC frame, and a frame comes 192 ms after them, a little before the source's first
// part closes, so that the audio-only rendition would have a part of the segment to publish first.)
func TestMuxerAudioOnlyWaitsForTheSegment(t *testing.T) {
	frames, v, a := fixture(t)
	var key, delta [][]byte
	var aac []byte
	for _, f := range frames {
		switch {
		case !f.video:
			aac = f.au[0]
		case isKeyframe(H264, f.au):
			key = f.au
		default:
			delta = f.au
		}
	}
	src, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v})
	if err != nil {
		t.Fatal(err)
	}
	ao, err := New(Config{LowLatency: true, Container: ContainerTS, Audio: a, Follow: src, AudioOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	audioAt := func(k int) time.Duration {
		return time.Duration(int64(k) * 1024 * int64(time.Second) / int64(a.Config.SampleRate))
	}
	next := 0 // audio frames written
	for sec := range 5 {
		b := time.Duration(0)
		if sec > 0 {
			k := 0
			for audioAt(k) < time.Duration(sec)*time.Second {
				k++
			}
			b = audioAt(k) - 5*time.Millisecond
		}
		for _, o := range []time.Duration{0, 40, 80, 120, 160, 192, 232, 272, 312, 352, 392, 432, 472, 512, 552, 592, 632, 672, 712, 752, 792, 832, 872, 912} {
			ts := b + o*time.Millisecond
			au := delta
			if o == 0 {
				au = key
			}
			if err := src.WriteVideo(ts, ts, au); err != nil {
				t.Fatal(err)
			}
			if sec == 2 && o == 192 {
				src.AdBreak("ad", 500*time.Millisecond)
			}
			for audioAt(next) < ts+100*time.Millisecond { // the audio 100 ms ahead of the video
				ao.WriteAAC(audioAt(next), aac)
				next++
			}
		}
	}
	ao.Close()
	src.Close()
	var tagged int
	for msn := uint64(1); msn < 5; msn++ {
		r, ok1 := ao.Segment(msn)
		s, ok2 := src.Segment(msn)
		if !ok1 || !ok2 {
			t.Fatalf("segment %d: in the audio-only rendition %v, in the source %v", msn, ok1, ok2)
		}
		if strings.Join(r.Tags, "|") != strings.Join(s.Tags, "|") || r.StartDTS != s.StartDTS {
			t.Errorf("segment %d: audio-only tags %q at %v, the source's %q at %v", msn, r.Tags, r.StartDTS, s.Tags, s.StartDTS)
		}
		if len(s.Tags) > 0 {
			tagged++
		}
	}
	if tagged == 0 {
		t.Error("the ad break is on no segment of the source")
	}
}
