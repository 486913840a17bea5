package e2e

// Self-tests of the real-player harness (player.go, test/player/play.mjs) against streams made by ffmpeg and
// served by a plain CORS-enabled file server: no openivs server is involved.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// corsFileServer serves dir with CORS headers like a CDN would, and remembers the Origin of every request.
type corsFileServer struct {
	*httptest.Server
	mu      sync.Mutex
	origins map[string]bool
}

func serveDirCORS(t *testing.T, dir string) *corsFileServer {
	t.Helper()
	fs := &corsFileServer{origins: map[string]bool{}}
	files := http.FileServer(http.Dir(dir))
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.origins[r.Header.Get("Origin")] = true
		fs.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-cache")
		switch filepath.Ext(r.URL.Path) {
		case ".m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		case ".ts":
			w.Header().Set("Content-Type", "video/mp2t")
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *corsFileServer) sawOrigin(o string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.origins[o]
}

const harnessMultivariant = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n%s\n"

// ffmpegLiveHLS runs ffmpeg making a live HLS stream (1 s segments, a sliding window of 6) in a fresh directory, with
// a harnessMultivariant playlist master.m3u8 pointing at it, and returns the directory once 3 segments are out.
func ffmpegLiveHLS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "master.m3u8"), fmt.Appendf(nil, harnessMultivariant, "live.m3u8"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-g", "30", "-preset", "veryfast", "-tune", "zerolatency", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments+program_date_time",
		filepath.Join(dir, "live.m3u8"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ffmpeg: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("ffmpeg: %s", stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "live.m3u8"))
		if bytes.Count(b, []byte("#EXTINF")) >= 3 {
			return dir
		}
		select {
		case <-done:
			t.Fatalf("ffmpeg ended: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg made no live playlist in 20 s: %s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func harnessFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func playerRequestsTo(res *PlayResult, suffix string) []PlayerRequest {
	var out []PlayerRequest
	for _, r := range res.Requests {
		if strings.HasSuffix(strings.SplitN(r.URL, "?", 2)[0], suffix) {
			out = append(out, r)
		}
	}
	return out
}

func checkPlayerPlayed(t *testing.T, res *PlayResult, srv *corsFileServer) {
	t.Helper()
	if res.Fatal || len(res.Errors) > 0 {
		t.Errorf("errors: %q (fatal %v)", res.Errors, res.Fatal)
	}
	if adv := res.Advanced(); adv < 3 {
		t.Errorf("the playhead advanced %.2f s in 8 s, want >= 3; samples: %+v", adv, res.Samples)
	}
	if n := len(res.Samples); n < 25 {
		t.Errorf("%d samples in 8 s, want about 32", n)
	}
	last := res.Samples[len(res.Samples)-1]
	if last.Paused {
		t.Errorf("paused at the end: %+v", last)
	}
	if now := time.Now().UnixMilli(); last.WallMs > now || last.WallMs < now-15000 {
		t.Errorf("last sample at %d, now %d: not the same clock", last.WallMs, now)
	}
	if m := playerRequestsTo(res, "/master.m3u8"); len(m) == 0 || m[0].Status != 200 || m[0].Method != "GET" {
		t.Errorf("no GET master.m3u8 answered 200 in the request log: %+v", res.Requests)
	}
	if s := playerRequestsTo(res, ".ts"); len(s) < 3 {
		t.Errorf("%d segment requests, want >= 3: %+v", len(s), res.Requests)
	}
	if !srv.sawOrigin(res.PageOrigin) {
		t.Errorf("the stream server never saw Origin %q (saw %v)", res.PageOrigin, srv.origins)
	}
}

// TestPlayerLive: both players play a live stream (a cross-origin page, CORS headers on the stream).
func TestPlayerLive(t *testing.T) {
	srv := serveDirCORS(t, ffmpegLiveHLS(t))
	url := srv.URL + "/master.m3u8"

	t.Run("hlsjs", func(t *testing.T) {
		origin := fmt.Sprintf("http://localhost:%d", harnessFreePort(t))
		res, err := Play(Ctx(t), t, PlayOptions{URL: url, Player: HLSJS, Duration: 8 * time.Second, PageOrigin: origin})
		if err != nil {
			t.Fatal(err)
		}
		if res.PageOrigin != origin {
			t.Errorf("PageOrigin %q, want %q", res.PageOrigin, origin)
		}
		checkPlayerPlayed(t, res, srv)
		last := res.Samples[len(res.Samples)-1]
		if last.Latency <= 0 || last.Latency > 15 {
			t.Errorf("hls.js latency %.2f s at the end", last.Latency)
		}
		t.Logf("hls.js: advanced %.2f s, latency %.2f s, %d requests", res.Advanced(), last.Latency, len(res.Requests))
	})

	t.Run("ivs", func(t *testing.T) {
		res, err := Play(Ctx(t), t, PlayOptions{URL: url, Player: IVSPlayer, Duration: 8 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.PageOrigin, "http://127.0.0.1:") {
			t.Errorf("PageOrigin %q, want a port on 127.0.0.1", res.PageOrigin)
		}
		checkPlayerPlayed(t, res, srv)
		last := res.Samples[len(res.Samples)-1]
		t.Logf("IVS player: advanced %.2f s, latency %.2f s, %d requests", res.Advanced(), last.Latency, len(res.Requests))
	})
}

// TestPlayerAdvanced: Advanced counts playing, not the seek to the live edge nor going back.
func TestPlayerAdvanced(t *testing.T) {
	r := &PlayResult{Samples: []PlayerSample{
		{WallMs: 1000, CurrentTime: 0},
		{WallMs: 1250, CurrentTime: 0},
		{WallMs: 1500, CurrentTime: 37.5}, // the seek to the live edge
		{WallMs: 1750, CurrentTime: 37.75},
		{WallMs: 2000, CurrentTime: 38},
		{WallMs: 2250, CurrentTime: 38.3}, // catching up a little faster
		{WallMs: 2500, CurrentTime: 36},   // a seek back
		{WallMs: 3500, CurrentTime: 37},
	}}
	if got, want := r.Advanced(), 0.25+0.25+0.3+1; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("Advanced() = %v, want %v", got, want)
	}
	if (&PlayResult{}).Advanced() != 0 || (*PlayResult)(nil).Advanced() != 0 {
		t.Error("Advanced of no samples")
	}
}

// TestPlayerNotFound: a playlist answering 404 is a fatal error for both players, with the 404 in the request log.
func TestPlayerNotFound(t *testing.T) {
	t.Parallel()
	srv := serveDirCORS(t, t.TempDir())
	for _, kind := range []PlayerKind{HLSJS, IVSPlayer} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			res, err := Play(Ctx(t), t, PlayOptions{URL: srv.URL + "/nope/master.m3u8", Player: kind, Duration: 1500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Fatal || len(res.Errors) == 0 || !strings.HasPrefix(res.Errors[0], "fatal: ") || !strings.Contains(res.Errors[0], "404") {
				t.Errorf("want a fatal 404 error, got fatal=%v errors=%q", res.Fatal, res.Errors)
			}
			if m := playerRequestsTo(res, "/nope/master.m3u8"); len(m) == 0 || m[0].Status != 404 {
				t.Errorf("request log: %+v", res.Requests)
			}
			if res.Advanced() != 0 {
				t.Errorf("advanced %.2f s", res.Advanced())
			}
		})
	}
}

// TestPlayerCancel: cancelling the context ends Play at once, and no browser is left behind.
func TestPlayerCancel(t *testing.T) {
	t.Parallel()
	srv := serveDirCORS(t, t.TempDir())
	var profile string
	ctx, cancel := context.WithTimeout(context.WithValue(Ctx(t), profileHook{}, func(p string) { profile = p }), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Play(ctx, t, PlayOptions{URL: srv.URL + "/master.m3u8", Duration: time.Minute})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("Play returned %v with the context %v", err, ctx.Err())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Play took %v to return after the cancel", d)
	}
	if profile == "" {
		t.Fatal("no browser profile")
	}
	var left []int
	for range 20 {
		if left = processesWithProfile(profile); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range left {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		t.Errorf("process %d left with the profile of the cancelled browser: %q %q", pid, cmdline, stat)
	}
}

// processesWithProfile lists the live (not zombie) processes whose command line names the given browser profile.
func processesWithProfile(profile string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(profile)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ---- timed ID3 metadata in MPEG-TS ----

// harnessID3Tag is an ID3v2.4 tag with one TXXX frame (UTF-8, empty description).
func harnessID3Tag(value string) []byte {
	frame := append([]byte{3, 0}, value...) // encoding UTF-8, description "" and its NUL, then the value
	var b []byte
	b = append(b, "ID3"...)
	b = append(b, 4, 0, 0)
	b = append(b, harnessSyncsafe(10+len(frame))...)
	b = append(b, "TXXX"...)
	b = append(b, harnessSyncsafe(len(frame))...)
	b = append(b, 0, 0)
	return append(b, frame...)
}

func harnessSyncsafe(n int) []byte {
	return []byte{byte(n>>21) & 0x7f, byte(n>>14) & 0x7f, byte(n>>7) & 0x7f, byte(n) & 0x7f}
}

func harnessCRC32MPEG(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, x := range b {
		crc ^= uint32(x) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// harnessTSPayload returns the payload of a 188-byte TS packet.
func harnessTSPayload(p []byte) []byte {
	if p[3]&0x20 != 0 {
		return p[5+int(p[4]):]
	}
	return p[4:]
}

// harnessInjectID3 adds a timed-metadata elementary stream (stream_type 0x15, PES private_stream_1, as in Apple's "Timed
// Metadata for HTTP Live Streaming") to an ffmpeg-made MPEG-TS segment: every PMT declares it, and one PES with the
// given ID3 tag, at the PTS of the segment's first video frame, follows the first PMT.
func harnessInjectID3(seg, tag []byte) ([]byte, error) {
	const id3PID = 0x0102
	if len(seg)%188 != 0 {
		return nil, fmt.Errorf("segment of %d bytes", len(seg))
	}
	pmtPID, videoPID := -1, -1
	var pts uint64
	havePTS := false
	for i := 0; i < len(seg); i += 188 {
		p := seg[i : i+188]
		pid := int(p[1]&0x1f)<<8 | int(p[2])
		pusi := p[1]&0x40 != 0
		switch {
		case pid == 0 && pusi:
			pl := harnessTSPayload(p)
			sec := pl[1+int(pl[0]):]
			pmtPID = int(sec[10]&0x1f)<<8 | int(sec[11]) // the first program
		case pid == pmtPID && pusi:
			pl := harnessTSPayload(p)
			sec := pl[1+int(pl[0]):]
			secLen := int(sec[1]&0x0f)<<8 | int(sec[2])
			progInfoLen := int(sec[10]&0x0f)<<8 | int(sec[11])
			es := sec[12+progInfoLen : 3+secLen-4]
			for j := 0; j+5 <= len(es); {
				if es[j] == 0x1b {
					videoPID = int(es[j+1]&0x1f)<<8 | int(es[j+2])
				}
				j += 5 + (int(es[j+3]&0x0f)<<8 | int(es[j+4]))
			}
			id3 := []byte("ID3 ")
			pointerDesc := append(append(append(append([]byte{0x25, 15, 0xff, 0xff}, id3...), 0xff), id3...), 0, 0x1f, 0, 1)
			metaDesc := append(append(append(append([]byte{0x26, 13, 0xff, 0xff}, id3...), 0xff), id3...), 0, 0x0f)
			var ns []byte
			ns = append(ns, sec[:10]...)
			pil := progInfoLen + len(pointerDesc)
			ns = append(ns, 0xf0|byte(pil>>8), byte(pil))
			ns = append(ns, sec[12:12+progInfoLen]...)
			ns = append(ns, pointerDesc...)
			ns = append(ns, es...)
			ns = append(ns, 0x15, 0xe0|byte(id3PID>>8), byte(id3PID&0xff), 0xf0|byte(len(metaDesc)>>8), byte(len(metaDesc)))
			ns = append(ns, metaDesc...)
			l := len(ns) - 3 + 4
			ns[1] = ns[1]&0xf0 | byte(l>>8)
			ns[2] = byte(l)
			ns = binary.BigEndian.AppendUint32(ns, harnessCRC32MPEG(ns))
			if p[3]&0x20 != 0 || 1+len(ns) > 184 {
				return nil, fmt.Errorf("PMT packet with an adaptation field or too long")
			}
			np := append(append(append([]byte{}, p[:4]...), 0), ns...)
			for len(np) < 188 {
				np = append(np, 0xff)
			}
			copy(p, np)
		case pid == videoPID && pusi && !havePTS:
			pl := harnessTSPayload(p)
			if len(pl) >= 14 && pl[0] == 0 && pl[1] == 0 && pl[2] == 1 && pl[7]&0x80 != 0 {
				b := pl[9:14]
				pts = uint64(b[0]>>1&0x07)<<30 | uint64(b[1])<<22 | uint64(b[2]>>1)<<15 | uint64(b[3])<<7 | uint64(b[4]>>1)
				havePTS = true
			}
		}
	}
	if pmtPID < 0 || videoPID < 0 || !havePTS {
		return nil, fmt.Errorf("no PMT, video stream or PTS in the segment (PMT %d, video %d)", pmtPID, videoPID)
	}

	pes := []byte{0, 0, 1, 0xbd, 0, 0, 0x84, 0x80, 5,
		0x21 | byte(pts>>29)&0x0e, byte(pts >> 22), byte(pts>>14)&0xfe | 1, byte(pts >> 7), byte(pts<<1)&0xfe | 1}
	pes = append(pes, tag...)
	binary.BigEndian.PutUint16(pes[4:], uint16(len(pes)-6))
	var packets []byte
	for cc := 0; len(pes) > 0; cc++ {
		n := min(len(pes), 184)
		h := []byte{0x47, byte(id3PID >> 8), byte(id3PID & 0xff), 0x10 | byte(cc&0x0f)}
		if cc == 0 {
			h[1] |= 0x40
		}
		if n < 184 { // stuff the last packet with an adaptation field
			h[3] |= 0x20
			afl := 184 - n - 1
			h = append(h, byte(afl))
			if afl > 0 {
				h = append(h, 0)
				h = append(h, bytes.Repeat([]byte{0xff}, afl-1)...)
			}
		}
		packets = append(append(packets, h...), pes[:n]...)
		pes = pes[n:]
	}
	// after the first PMT
	for i := 0; i < len(seg); i += 188 {
		pid := int(seg[i+1]&0x1f)<<8 | int(seg[i+2])
		if pid == pmtPID {
			return slices.Concat(seg[:i+188], packets, seg[i+188:]), nil
		}
	}
	return nil, fmt.Errorf("no PMT")
}

// harnessInjectEmsg puts an emsg box (version 0, scheme https://aomedia.org/emsg/ID3, at the segment's start) with
// the given ID3 tag before the first moof of an fMP4 media segment.
func harnessInjectEmsg(seg, tag []byte, id uint32) ([]byte, error) {
	i := bytes.Index(seg, []byte("moof")) - 4
	if i < 0 {
		return nil, fmt.Errorf("no moof")
	}
	body := []byte{0, 0, 0, 0} // version 0, flags
	body = append(body, "https://aomedia.org/emsg/ID3\x00\x00"...)
	for _, v := range []uint32{1000, 0, 0xffffffff, id} { // timescale, presentation_time_delta, duration, id
		body = binary.BigEndian.AppendUint32(body, v)
	}
	body = append(body, tag...)
	box := slices.Concat(binary.BigEndian.AppendUint32(nil, uint32(8+len(body))), []byte("emsg"), body)
	return slices.Concat(seg[:i], box, seg[i:]), nil
}

// ffmpegID3VOD makes a 6 s VOD stream of 1 s segments (MPEG-TS, or fMP4 when fmp4 is set), each with an ID3 tag
// "openivs-cue-<n>" at its start (an ID3 PES in TS, an emsg box in fMP4).
func ffmpegID3VOD(t *testing.T, fmp4 bool) string {
	t.Helper()
	dir := t.TempDir()
	ext, args := ".ts", []string{}
	if fmp4 {
		ext, args = ".m4s", []string{"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"}
	}
	args = append([]string{"-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine", "-t", "6",
		"-c:v", "libx264", "-g", "30", "-preset", "ultrafast", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(dir, "seg%d"+ext)}, args...)
	cmd := exec.Command("ffmpeg", append(args, filepath.Join(dir, "vod.m3u8"))...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg*"+ext))
	if len(segs) < 5 {
		t.Fatalf("ffmpeg made %d segments", len(segs))
	}
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(s), "seg"), ext)
		tag := harnessID3Tag("openivs-cue-" + n)
		if fmp4 {
			var id int
			fmt.Sscan(n, &id)
			b, err = harnessInjectEmsg(b, tag, uint32(id))
		} else {
			b, err = harnessInjectID3(b, tag)
		}
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if err := os.WriteFile(s, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "master.m3u8"), fmt.Appendf(nil, harnessMultivariant, "vod.m3u8"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPlayerID3Cues: ID3 tags reach the harness as cues, with the TXXX value parsed: from MPEG-TS (ID3 PES) with
// both players, and from fMP4 (emsg boxes of scheme https://aomedia.org/emsg/ID3) with hls.js (the IVS player
// ignores that scheme: it reads version-0 emsg boxes of scheme urn:twitch:id3, not tested here). The page's ID3
// parser is also checked on tags of every kind (ID3v2.3/2.4, text encodings, extended header, several tags).
func TestPlayerID3Cues(t *testing.T) {
	t.Parallel()
	ts := serveDirCORS(t, ffmpegID3VOD(t, false))
	fmp4 := serveDirCORS(t, ffmpegID3VOD(t, true))
	hlsjs := func(srv *corsFileServer, parser bool) func(t *testing.T) {
		return func(t *testing.T) {
			t.Parallel()
			var tags [][]byte
			var check func(*testing.T, []parsedID3)
			if parser { // the page's ID3 parser on tags of every kind, in the same browser
				tags, check = id3ParserCases()
			}
			res, err := play(Ctx(t), t, PlayOptions{URL: srv.URL + "/master.m3u8", Player: HLSJS, Duration: 2500 * time.Millisecond}, tags)
			if err != nil {
				t.Fatal(err)
			}
			if parser {
				check(t, res.id3)
			}
			if res.Fatal {
				t.Fatalf("errors: %q", res.Errors)
			}
			var texts []string
			for _, c := range res.Cues {
				texts = append(texts, c.Text)
				if !bytes.Equal(c.Raw, harnessID3Tag(c.Text)) {
					t.Errorf("cue %q: raw %q", c.Text, c.Raw)
				}
				if c.WallMs <= 0 || c.PTS < 0 {
					t.Errorf("cue %+v", c)
				}
			}
			for _, want := range []string{"openivs-cue-0", "openivs-cue-1", "openivs-cue-2"} {
				if !slices.Contains(texts, want) {
					t.Errorf("no cue %q in %q", want, texts)
				}
			}
		}
	}
	t.Run("hlsjs-ts", hlsjs(ts, true))
	t.Run("hlsjs-fmp4-emsg", hlsjs(fmp4, false))
	t.Run("ivs-ts", func(t *testing.T) {
		t.Parallel()
		res, err := Play(Ctx(t), t, PlayOptions{URL: ts.URL + "/master.m3u8", Player: IVSPlayer, Duration: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fatal {
			t.Fatalf("errors: %q", res.Errors)
		}
		// The IVS player fires TEXT_METADATA_CUE when the playhead reaches the cue: cue n at about n s of playback.
		var texts []string
		for _, c := range res.Cues {
			texts = append(texts, c.Text)
			if c.Raw != nil || c.WallMs <= 0 {
				t.Errorf("cue %+v", c)
			}
		}
		for _, want := range []string{"openivs-cue-0", "openivs-cue-1"} {
			if !slices.Contains(texts, want) {
				t.Errorf("no cue %q in %q", want, texts)
			}
		}
	})
}

// id3ParserCases returns ID3v2.3 and v2.4 tags with TXXX frames in every text encoding, and a check of what the
// page's parser made of them.
func id3ParserCases() (tags [][]byte, check func(t *testing.T, got []parsedID3)) {
	v23 := func(frames ...[]byte) []byte { // an ID3v2.3 tag with an extended header and padding
		body := []byte{0, 0, 0, 6, 0, 0, 0, 0, 0, 0}
		for _, f := range frames {
			body = append(body, f...)
		}
		body = append(body, 0, 0, 0, 0)
		return slices.Concat([]byte("ID3"), []byte{3, 0, 0x40}, harnessSyncsafe(len(body)), body)
	}
	frame23 := func(id string, data []byte) []byte {
		return slices.Concat([]byte(id), binary.BigEndian.AppendUint32(nil, uint32(len(data))), []byte{0, 0}, data)
	}
	utf16 := []byte{1, 0xff, 0xfe, 'd', 0, 0, 0, 0xff, 0xfe, 'h', 0, 'i', 0, 0x3a, 0x26} // "d", "hi☺" in UTF-16LE with BOMs
	cases := []id3ParserCase{
		{harnessID3Tag("hello"), "hello"},
		{harnessID3Tag(`{"a":"ünïcode ✓"}`), `{"a":"ünïcode ✓"}`},
		{v23(frame23("TIT2", []byte("\x00title")), frame23("TXXX", []byte("\x00desc\x00latin1 \xe9"))), "latin1 é"},
		{v23(frame23("TXXX", utf16)), "hi☺"},
		{slices.Concat([]byte("ID3"), []byte{4, 0, 0}, harnessSyncsafe(0), harnessID3Tag("second tag")), "second tag"},
		{v23(frame23("PRIV", []byte("owner\x00data"))), ""},
	}
	for _, c := range cases {
		tags = append(tags, c.tag)
	}
	return tags, func(t *testing.T, got []parsedID3) {
		t.Helper()
		checkID3Parser(t, cases, got)
	}
}

type id3ParserCase struct {
	tag  []byte
	text string // what Cue.Text must be
}

func checkID3Parser(t *testing.T, cases []id3ParserCase, got []parsedID3) {
	t.Helper()
	if len(got) != len(cases) {
		t.Fatalf("%d results for %d tags", len(got), len(cases))
	}
	for i, c := range cases {
		if got[i].Text != c.text {
			t.Errorf("tag %d: text %q, want %q (frames %+v)", i, got[i].Text, c.text, got[i].Frames)
		}
	}
	if f := got[2].Frames; len(f) != 2 || f[0].ID != "TIT2" || f[0].Value != "title" || f[1].Description != "desc" {
		t.Errorf("frames of the v2.3 tag: %+v", f)
	}
	if f := got[3].Frames; len(f) != 1 || f[0].Description != "d" {
		t.Errorf("frames of the UTF-16 tag: %+v", f)
	}
	if f := got[5].Frames; len(f) != 1 || f[0].ID != "PRIV" || f[0].Owner != "owner" {
		t.Errorf("frames of the PRIV tag: %+v", f)
	}
}
