package playback

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/ingest"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/mediatest"
	"github.com/openivs/openivs/internal/transcode"
)

// authority is a control plane with one public channel.
type authority struct{ ch Channel }

func (a authority) PlaybackChannel(ctx context.Context, region, account, id string) (Channel, error) {
	if region+"."+account+"."+id != "us-west-2.111111111111.abcdefghijkl" {
		return Channel{}, ErrNoChannel
	}
	return a.ch, nil
}
func (authority) PlaybackKeys(context.Context, string, string) ([]Key, error)  { return nil, nil }
func (authority) KeyExists(context.Context, string) bool                       { return true }
func (authority) RevokedThrough(context.Context, string, string) (int64, bool) { return 0, false }

const playbackPath = "/api/video/v1/us-west-2.111111111111.channel.abcdefghijkl.m3u8"

// fixtureDuration is the hls fixture's length: looping it shifts each loop by this much.
const fixtureDuration = 4200 * time.Millisecond

// fixture reads the hls fixture (4.2 s of 192x108 30 fps H.264 + AAC) and its tracks.
func fixture(t testing.TB) (frames []mediatest.Frame, video hls.VideoTrack, audio *hls.AudioTrack) {
	t.Helper()
	ts, err := mediatest.ReadTS("../hls/testdata/source.ts")
	if err != nil {
		t.Fatal(err)
	}
	return ts.Frames, hls.VideoTrack{SPS: ts.SPS, PPS: ts.PPS, Codec: "avc1.64000B", Width: 192, Height: 108},
		&hls.AudioTrack{Config: ts.AAC, Codec: "mp4a.40.2"}
}

// publisher feeds the fixture, looped, to a live LOW-latency stream packaged by a Server.
type publisher struct {
	frames []mediatest.Frame
	sink   ingest.Sink
	next   int // frames written
}

// peek returns the next frame of the looped fixture, its timestamps shifted to its loop.
func (p *publisher) peek() mediatest.Frame {
	f := p.frames[p.next%len(p.frames)]
	off := time.Duration(p.next/len(p.frames)) * fixtureDuration
	f.PTS, f.DTS = f.PTS+off, f.DTS+off
	return f
}

// write writes the next frame of the looped fixture.
func (p *publisher) write() {
	f := p.peek()
	if f.Video {
		p.sink.WriteVideo(0, f.PTS, f.DTS, f.AU)
	} else {
		p.sink.WriteAAC(f.PTS, f.AU[0])
	}
	p.next++
}

// liveServer packages the hls fixture (4.2 s of H.264 + AAC) as a live LOW-latency stream, all of it written.
func liveServer(t testing.TB, container string) (*Server, *live.Registry) {
	s, reg, p := livePublisher(t, container)
	for range p.frames {
		p.write()
	}
	return s, reg
}

// livePublisher starts a live LOW-latency stream of the fixture and returns its publisher, nothing written yet.
func livePublisher(t testing.TB, container string) (*Server, *live.Registry, *publisher) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := live.NewRegistry(live.DefaultLimits, nil, log)
	t.Cleanup(reg.Close)
	s := New(authority{ch: Channel{ARN: "arn:aws:ivs:us-west-2:111111111111:channel/abcdefghijkl"}}, Config{Log: log})
	t.Cleanup(s.Close)
	ls, err := reg.Begin(live.Channel{ARN: "arn:aws:ivs:us-west-2:111111111111:channel/abcdefghijkl", Account: "111111111111",
		Region: "us-west-2", ID: "abcdefghijkl", LatencyMode: "LOW", ContainerFormat: container}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	ls.Describe([]live.Video{{Width: 192, Height: 108, Framerate: 30}}, nil)
	frames, video, audio := fixture(t)
	sink, err := s.Package(ls, []hls.VideoTrack{video}, audio)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, &publisher{frames: frames, sink: sink}
}

func get(t testing.TB, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// TestPlaybackURLs walks a live stream from the playbackUrl down to a part and checks each step's answer.
func TestPlaybackURLs(t *testing.T) {
	for _, container := range []string{"TS", "FRAGMENTED_MP4"} {
		t.Run(container, func(t *testing.T) {
			s, _ := liveServer(t, container)
			mv := get(t, s, "GET", playbackPath)
			if mv.Code != 200 || !strings.Contains(mv.Body.String(), "/v1/playlist/") {
				t.Fatalf("multivariant: %d %s", mv.Code, mv.Body)
			}
			var variant string
			for _, l := range strings.Split(mv.Body.String(), "\n") {
				if strings.HasPrefix(l, "/v1/playlist/") {
					variant = l
				}
			}
			pl := get(t, s, "GET", variant)
			if pl.Code != 200 || !strings.Contains(pl.Body.String(), "#EXT-X-PART:") {
				t.Fatalf("media playlist: %d %s", pl.Code, pl.Body)
			}
			// media URIs are relative to the playlist: "<rendition>/<msn>.<part>.<ext>"
			dir := variant[:strings.LastIndex(variant, "/")+1]
			var uris []string
			for _, l := range strings.Split(pl.Body.String(), "\n") {
				if i := strings.Index(l, `URI="`); i >= 0 && !strings.HasPrefix(l, "#EXT-X-PRELOAD-HINT") {
					u := l[i+5:]
					uris = append(uris, dir+u[:strings.Index(u, `"`)])
				} else if l != "" && !strings.HasPrefix(l, "#") {
					uris = append(uris, dir+l)
				}
			}
			if len(uris) < 10 {
				t.Fatalf("the playlist lists %d media URIs:\n%s", len(uris), pl.Body)
			}
			// every viewer gets the same body
			other := get(t, s, "GET", playbackPath).Body.String()
			otherVariant := other[strings.Index(other, "/v1/playlist/"):]
			otherVariant = strings.TrimSpace(otherVariant[:strings.Index(otherVariant, ".m3u8")+5])
			if otherVariant == variant || get(t, s, "GET", otherVariant).Body.String() != pl.Body.String() {
				t.Error("two viewers' media playlists differ (or they share a session)")
			}
			for _, u := range uris {
				if r := get(t, s, "GET", u); r.Code != 200 || r.Body.Len() == 0 {
					t.Errorf("%s: %d", u, r.Code)
				}
			}
			// the viewer is counted
			s.sweepOnce()
			// tampered, unknown and out-of-reach URLs are 4xx
			tok := strings.Split(variant, "/")[3]
			for _, u := range []string{
				strings.Replace(variant, tok, tampered(tok), 1),
				strings.Replace(variant, ".m3u8", "x.m3u8", 1),
				variant + "?_HLS_msn=99999",
				variant + "?_HLS_msn=-1",
				"/v1/segment/" + tok + "/nope/0.ts",
				"/v1/playlist/" + tok + "/nope/0.ts",
				"/api/video/v1/us-west-2.111111111111.channel.zzzzzzzzzzzz.m3u8",
			} {
				if r := get(t, s, "GET", u); r.Code < 400 || r.Code >= 500 {
					t.Errorf("%s: %d, want 4xx", u, r.Code)
				}
			}
		})
	}
}

// TestTuneInPlaylistEndsAtTheLiveEdge: a LOW media playlist request without delivery directives (a player tuning
// in) is answered once the next part is published, so the playlist ends at a part just made.
func TestTuneInPlaylistEndsAtTheLiveEdge(t *testing.T) {
	for _, container := range []string{"TS", "FRAGMENTED_MP4"} {
		t.Run(container, func(t *testing.T) {
			s, _, p := livePublisher(t, container)
			for range len(p.frames) / 2 {
				p.write()
			}
			s.mu.RLock()
			m := s.channels["us-west-2.111111111111.channel.abcdefghijkl"].renditions[0].m
			s.mu.RUnlock()
			mv := get(t, s, "GET", playbackPath).Body.String()
			variant := strings.TrimSpace(mv[strings.Index(mv, "/v1/playlist/"):])
			// tuneIn requests the playlist and, unless it is answered within 0.1 s, writes frames until a part is
			// published; it returns the playlist and whether it was answered before that wait ended
			tuneIn := func() (body string, early bool) {
				t.Helper()
				got := make(chan *httptest.ResponseRecorder, 1)
				go func() {
					w := httptest.NewRecorder()
					s.ServeHTTP(w, httptest.NewRequest("GET", variant, nil))
					got <- w
				}()
				var w *httptest.ResponseRecorder
				select {
				case w = <-got:
					early = true
				case <-time.After(100 * time.Millisecond):
					published := m.Changed()
					for {
						select {
						case <-published:
						default:
							p.write()
							continue
						}
						break
					}
					w = <-got // no frame is written until it is answered
				}
				if w.Code != 200 {
					t.Fatalf("media playlist: %d %s", w.Code, w.Body)
				}
				return w.Body.String(), early
			}
			first, _ := tuneIn()
			second, early := tuneIn()
			if early {
				t.Errorf("a tune-in request was answered with no new part published:\n%s", second)
			}
			// the second ends at the part after the first's last: the one published while it waited
			msn1, i1 := lastPart(t, first)
			msn2, i2 := lastPart(t, second)
			if !(msn2 == msn1 && i2 == i1+1 || msn2 == msn1+1 && i2 == 0) {
				t.Errorf("the first tune-in playlist ends at part %d.%d, the second at %d.%d: want the next part", msn1, i1, msn2, i2)
			}
		})
	}
}

// lastPart returns the media sequence number and index of a media playlist's last part.
func lastPart(t *testing.T, pl string) (msn uint64, i int) {
	t.Helper()
	k := strings.LastIndex(pl, "#EXT-X-PART:")
	u := pl[k+1:]
	if k < 0 || !strings.Contains(u, `URI="`) {
		t.Fatalf("no part in the playlist:\n%s", pl)
	}
	u = u[strings.Index(u, `URI="`)+5:]
	u = u[strings.LastIndex(u[:strings.Index(u, `"`)], "/")+1:]
	if _, err := fmt.Sscanf(u, "%d.%d.", &msn, &i); err != nil {
		t.Fatalf("part URI %q: %v", u, err)
	}
	return msn, i
}

// FuzzPlaybackRequest: any path and query under the playback prefixes gets an answer below 500, never a panic.
func FuzzPlaybackRequest(f *testing.F) {
	s, _ := liveServer(f, "TS")
	mv := get(f, s, "GET", playbackPath).Body.String()
	var variant string
	for _, l := range strings.Split(mv, "\n") {
		if strings.HasPrefix(l, "/v1/playlist/") {
			variant = l
		}
	}
	tok := strings.Split(variant, "/")[3]
	for _, seed := range []string{playbackPath, playbackPath + "?token=a.b.c", variant, variant + "?_HLS_msn=3&_HLS_part=1&_HLS_skip=YES",
		"/v1/segment/" + tok + "/108p30/1.ts", "/v1/segment/" + tok + "/108p30/1.2.ts", "/v1/segment/" + tok + "/108p30/init.mp4",
		"/v1/segment/" + tok + "/108p30/99.ts", "/v1/playlist/x/y.m3u8", "/api/video/v1/a.b.c.d.m3u8"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u := "http://h" + target
		req, err := http.NewRequest("GET", u, nil)
		if err != nil || req.URL.Path == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // blocking requests give up
		defer cancel()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req.WithContext(ctx))
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
	})
}

// FuzzQueryGet: queryGet answers as url.Values.Get of the parsed query.
func FuzzQueryGet(f *testing.F) {
	for _, seed := range []string{"_HLS_msn=3&_HLS_part=1&_HLS_skip=YES", "_HLS_msn=1;x=2&_HLS_msn=4", "_HLS%5Fmsn=%33", "_HLS_skip=Y%ZZ&_HLS_skip=v2",
		"a=b+c&_HLS_part", "_HLS_msn&_HLS_msn=2", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		for _, k := range []string{"_HLS_msn", "_HLS_part", "_HLS_skip", "token"} {
			if got, want := queryGet(raw, k), q.Get(k); got != want {
				t.Fatalf("queryGet(%q, %q) = %q, url.Values.Get: %q", raw, k, got, want)
			}
		}
	})
}

// TestPackageRefusesHEVCInTS: HEVC on a TS channel cannot be packaged (the ingest then fails the stream with a
// Stream Failure); on a FRAGMENTED_MP4 channel it is.
func TestPackageRefusesHEVCInTS(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := live.NewRegistry(live.DefaultLimits, nil, log)
	t.Cleanup(reg.Close)
	s := New(authority{ch: Channel{ARN: "arn:aws:ivs:us-west-2:111111111111:channel/abcdefghijkl"}}, Config{Log: log})
	t.Cleanup(s.Close)
	ts, err := mediatest.ReadTS("../hls/testdata/source_hevc.ts")
	if err != nil {
		t.Fatal(err)
	}
	for i, container := range []string{"TS", "FRAGMENTED_MP4"} {
		id := []string{"tstststststs", "fmp4fmp4fmp4"}[i]
		ls, err := reg.Begin(live.Channel{ARN: "arn:aws:ivs:us-west-2:111111111111:channel/" + id, Account: "111111111111",
			Region: "us-west-2", ID: id, LatencyMode: "LOW", ContainerFormat: container}, func() {})
		if err != nil {
			t.Fatal(err)
		}
		ls.Describe([]live.Video{{Codec: "hvc1.1.6.L60.90", Width: 192, Height: 108, Framerate: 30}}, nil)
		k, err := s.Package(ls, []hls.VideoTrack{{Kind: hls.H265, VPS: ts.VPS, SPS: ts.SPS, PPS: ts.PPS,
			Codec: "hvc1.1.6.L60.90", Width: 192, Height: 108}}, nil)
		if (err == nil) != (container == "FRAGMENTED_MP4") {
			t.Errorf("%s: Package: %v", container, err)
		}
		if k != nil {
			k.Close()
		}
		ls.End("test")
	}
}

// TestMultivariantAudioOnly: while the transcoder is up, the audio-only rendition is offered last, in IVS's form,
// once it has a segment and only with a video rendition; aws:maximum-resolution keeps it (it has no resolution);
// its media playlist and segments are served under "audio_only/".
func TestMultivariantAudioOnly(t *testing.T) {
	s, _, p := livePublisher(t, "TS")
	s.mu.RLock()
	st := s.channels["us-west-2.111111111111.channel.abcdefghijkl"]
	s.mu.RUnlock()
	_, video, audio := fixture(t)
	src := st.renditions[0].m
	vm, err := hls.New(hls.Config{LowLatency: true, Container: hls.ContainerTS, Video: video, Audio: audio, Follow: src})
	if err != nil {
		t.Fatal(err)
	}
	am, err := hls.New(hls.Config{LowLatency: true, Container: hls.ContainerTS, Audio: audio, Follow: src, AudioOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	// the ladder the transcoder would make: a video rung and the audio-only rung (ready as they have a segment)
	st.rungs = []*rung{{plan: transcode.Rung{Name: "96p30", Width: 192, Height: 108, FPS: 30, VideoBitrate: 200_000, AudioBitrate: 48_000}},
		{plan: transcode.Rung{Name: "audio_only", AudioBitrate: 64_000}}}
	st.rungs[1].ready.Store(&rendition{name: "audio_only", prefix: "audio_only/", m: am, codec: "mp4a.40.2", audioOnly: true})
	st.transcoding.Store(true)
	for range 2 * len(p.frames) { // the source and the rungs (a transcoder without delay)
		f := p.peek()
		p.write()
		if f.Video {
			vm.WriteVideo(f.PTS, f.DTS, f.AU)
		} else {
			am.WriteAAC(f.PTS, f.AU[0])
		}
	}
	multivariant := func() string {
		t.Helper()
		r := get(t, s, "GET", playbackPath)
		if r.Code != 200 {
			t.Fatalf("multivariant: %d %s", r.Code, r.Body)
		}
		return r.Body.String()
	}
	if !am.Ready() {
		t.Fatal("the audio-only rendition has no segment")
	}
	if mv := multivariant(); strings.Contains(mv, "audio_only") {
		t.Errorf("the audio-only rendition is offered without a video rendition:\n%s", mv)
	}
	st.rungs[0].ready.Store(&rendition{name: "96p30", prefix: "96p30/", m: vm, video: video, codec: "avc1.64000B,mp4a.40.2", fps: 30})
	mv := strings.Split(strings.TrimSpace(multivariant()), "\n")
	n := len(mv)
	if n != 9 || !strings.HasPrefix(mv[n-5], `#EXT-X-STREAM-INF:`) || !strings.Contains(mv[n-5], `RESOLUTION=192x108,VIDEO="96p30"`) ||
		mv[n-3] != `#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="audio_only",NAME="audio_only",AUTOSELECT=NO,DEFAULT=NO` ||
		mv[n-2] != fmt.Sprintf(`#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS="mp4a.40.2",VIDEO="audio_only"`, max(160_000, am.PeakBitrate()*11/10)) ||
		!strings.HasPrefix(mv[n-1], "/v1/playlist/") || !strings.HasSuffix(mv[n-1], "/audio_only.m3u8") {
		t.Fatalf("multivariant playlist: the video rung, then the audio-only rendition in IVS's form, expected:\n%s", strings.Join(mv, "\n"))
	}
	if !allowedResolution("SD", hls.VideoTrack{}) {
		t.Error("aws:maximum-resolution drops the audio-only rendition")
	}
	pl := get(t, s, "GET", mv[n-1])
	if pl.Code != 200 || !strings.Contains(pl.Body.String(), "\naudio_only/") {
		t.Fatalf("audio-only media playlist: %d\n%s", pl.Code, pl.Body)
	}
	var seg string
	for _, l := range strings.Split(pl.Body.String(), "\n") {
		if strings.HasPrefix(l, "audio_only/") && strings.HasSuffix(l, ".ts") {
			seg = l
		}
	}
	dir := mv[n-1][:strings.LastIndex(mv[n-1], "/")+1]
	if r := get(t, s, "GET", dir+seg); seg == "" || r.Code != 200 || r.Body.Len() == 0 {
		t.Errorf("audio-only segment %q: %d", seg, r.Code)
	}
	// the transcoder down: the source alone
	st.transcoding.Store(false)
	if mv := multivariant(); strings.Contains(mv, "audio_only") || strings.Contains(mv, "96p30") {
		t.Errorf("the ladder is offered while the transcoder is down:\n%s", mv)
	}
}

// tampered returns tok with its second to last character changed (the last may carry only padding bits).
func tampered(tok string) string {
	c := byte('A')
	if tok[len(tok)-2] == c {
		c = 'B'
	}
	return tok[:len(tok)-2] + string(c) + tok[len(tok)-1:]
}
