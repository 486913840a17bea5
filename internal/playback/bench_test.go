package playback

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/httpfront"
)

// The fan-out benchmarks drive the playback front as hlsload's LL-HLS viewers do: each of k viewers makes a
// blocking playlist reload for the part at the preload hint (?_HLS_msn=M&_HLS_part=P&_HLS_skip=YES), then GETs that
// part, then asks for the next one. One op is one part published by the fixture's publisher and fetched by every
// viewer (2k requests). Reported per request, for the whole process (publisher, server and, over HTTP, the client):
// ns/req (wall clock), cpu-ns/req (user + system CPU time: steadier on a busy machine), allocs/req and B/req.
//
//	handler    ServeHTTP called directly (a fresh header map per request, as net/http makes)
//	http       a real net/http server on loopback, configured as internal/server's, with a minimal keep-alive client
//	http-bare  the same server and client with a bare handler doing only the media work (the muxer's Wait,
//	           SharedPlaylist and WaitPart, Content-Type and Content-Length): the baseline of the same run
//	front      internal/httpfront in front of that net/http server, as internal/server serves plain HTTP (its
//	           direct path: ServeDirect)
//	front-std  the same without the direct path: every request an http.Request to ServeHTTP
//	front-bare the bare handler through internal/httpfront
//
// The fixture's parts are small (192x108: ≈6 KB, against ≈75-110 KB at 720p 3 Mbit/s), so the benchmarks weigh
// per-request work, not byte copying. Compare variants of one run (ratios), not runs on a busy machine.
func BenchmarkFanout(b *testing.B) {
	for _, k := range []int{1, 200} {
		b.Run(fmt.Sprintf("viewers=%d/handler", k), func(b *testing.B) { benchFanout(b, k, "handler") })
		b.Run(fmt.Sprintf("viewers=%d/http", k), func(b *testing.B) { benchFanout(b, k, "http") })
		b.Run(fmt.Sprintf("viewers=%d/http-bare", k), func(b *testing.B) { benchFanout(b, k, "http-bare") })
		b.Run(fmt.Sprintf("viewers=%d/front", k), func(b *testing.B) { benchFanout(b, k, "front") })
		b.Run(fmt.Sprintf("viewers=%d/front-std", k), func(b *testing.B) { benchFanout(b, k, "front-std") })
		b.Run(fmt.Sprintf("viewers=%d/front-bare", k), func(b *testing.B) { benchFanout(b, k, "front-bare") })
	}
}

// fetcher makes one viewer's requests; keep (non-nil) receives the body.
type fetcher interface {
	get(ctx context.Context, target string, keep *[]byte) error
}

func benchFanout(b *testing.B, k int, mode string) {
	s, _, p := livePublisher(b, "TS")
	for range p.frames { // a segment complete: the stream is playable
		p.write()
	}
	st := s.channels["us-west-2.111111111111.channel.abcdefghijkl"]
	rd := st.renditions[0]
	publish := func() {
		ch := rd.m.Changed()
		for {
			p.write()
			select {
			case <-ch:
				return
			default:
			}
		}
	}

	var handler http.Handler = s
	if strings.HasSuffix(mode, "-bare") {
		handler = bareHandler(rd)
	}
	newFetcher := func() fetcher { return &handlerFetcher{h: handler} }
	if mode != "handler" {
		mux := http.NewServeMux() // as internal/server routes playback
		mux.Handle("/api/video/v1/", s)
		mux.Handle("/v1/playlist/", handler)
		mux.Handle("/v1/segment/", handler)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
			IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		if strings.HasPrefix(mode, "front") {
			front := &httpfront.Server{Handler: handler, Fallback: srv, Fast: func(method, path string) bool {
				return method == http.MethodGet && Owns(path)
			}}
			if mode == "front" {
				front.Direct = s.ServeDirect
			}
			go front.Serve(ln)
			b.Cleanup(func() { front.Close() })
		} else {
			go srv.Serve(ln)
			b.Cleanup(func() { srv.Close() })
		}
		newFetcher = func() fetcher { return &connFetcher{addr: ln.Addr().String()} }
	}

	// each viewer opens its session and reads the preload hint of its first playlist
	type viewer struct {
		f        fetcher
		playlist string // "/v1/playlist/<token>/108p30.m3u8"
		dir      string // "/v1/playlist/<token>/"
		msn      uint64
		part     int
		body     []byte
	}
	vs := make([]*viewer, k)
	for i := range vs {
		v := &viewer{f: newFetcher()}
		var mv []byte
		if err := (&handlerFetcher{h: s}).get(context.Background(), playbackPath, &mv); err != nil {
			b.Fatal(err)
		}
		for l := range strings.SplitSeq(string(mv), "\n") {
			if strings.HasPrefix(l, "/v1/playlist/") {
				v.playlist = l
			}
		}
		v.dir = v.playlist[:strings.LastIndex(v.playlist, "/")+1]
		if err := v.f.get(context.Background(), v.playlist, &v.body); err != nil {
			b.Fatal(err)
		}
		var err error
		if v.msn, v.part, err = preloadHint(v.body); err != nil {
			b.Fatal(err)
		}
		vs[i] = v
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, k)
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var q []byte
			for ctx.Err() == nil {
				q = append(q[:0], v.playlist...)
				q = append(q, "?_HLS_msn="...)
				q = strconv.AppendUint(q, v.msn, 10)
				q = append(q, "&_HLS_part="...)
				q = strconv.AppendInt(q, int64(v.part), 10)
				q = append(q, "&_HLS_skip=YES"...)
				err := v.f.get(ctx, string(q), &v.body)
				if ctx.Err() != nil {
					return
				}
				msn, part, herr := preloadHint(v.body)
				if err == nil {
					err = herr
				}
				if err == nil {
					q = append(q[:0], v.dir...)
					q = append(q, "108p30/"...)
					q = strconv.AppendUint(q, v.msn, 10)
					q = append(q, '.')
					q = strconv.AppendInt(q, int64(v.part), 10)
					q = append(q, ".ts"...)
					err = v.f.get(ctx, string(q), nil)
					v.msn, v.part = msn, part
				}
				done <- err
			}
		}()
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		publish()
		for range k {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	runtime.ReadMemStats(&after)
	reqs := float64(2 * k * b.N)
	b.ReportMetric(float64(elapsed.Nanoseconds())/reqs, "ns/req")
	b.ReportMetric(float64(cpu.Nanoseconds())/reqs, "cpu-ns/req")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/reqs, "allocs/req")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/reqs, "B/req")
	cancel()
	for _, v := range vs {
		if c, ok := v.f.(*connFetcher); ok {
			c.close()
		}
	}
	wg.Wait()
}

// cpuTime is the process's CPU time so far (user + system): on a machine shared with other work, a steadier
// measure than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// preloadHint returns the part position of a media playlist's EXT-X-PRELOAD-HINT.
func preloadHint(pl []byte) (msn uint64, part int, err error) {
	const tag = `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="`
	i := bytes.Index(pl, []byte(tag))
	if i < 0 {
		return 0, 0, fmt.Errorf("no preload hint in %q", pl)
	}
	uri := pl[i+len(tag):]
	uri = uri[bytes.LastIndexByte(uri[:bytes.IndexByte(uri, '"')], '/')+1:] // "<msn>.<part>.ts"
	f := bytes.Split(uri, []byte("."))
	m, err1 := strconv.ParseUint(string(f[0]), 10, 64)
	p, err2 := strconv.Atoi(string(f[1]))
	return m, p, errors.Join(err1, err2)
}

// bareHandler serves a rendition's blocking playlist reloads and parts with nothing but the media work.
func bareHandler(rd *rendition) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if strings.HasSuffix(r.URL.Path, ".m3u8") {
			q := r.URL.Query()
			msn, _ := strconv.ParseUint(q.Get("_HLS_msn"), 10, 64)
			part, _ := strconv.Atoi(q.Get("_HLS_part"))
			rd.m.Wait(r.Context(), msn, part, 0)
			body = rd.m.SharedPlaylist(rd.name+"/", true)
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		} else {
			name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
			f := strings.Split(name, ".")
			msn, _ := strconv.ParseUint(f[0], 10, 64)
			i, _ := strconv.Atoi(f[1])
			p, err := rd.m.WaitPart(r.Context(), msn, i, 0)
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			body = p.Data
			w.Header().Set("Content-Type", "video/mp2t")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}

// handlerFetcher calls a handler directly.
type handlerFetcher struct {
	h http.Handler
	w recorder
}

func (f *handlerFetcher) get(ctx context.Context, target string, keep *[]byte) error {
	path, query, _ := strings.Cut(target, "?")
	r := (&http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{},
		Host: "localhost", RequestURI: target}).WithContext(ctx)
	f.w = recorder{h: http.Header{}, code: http.StatusOK, keep: keep}
	if keep != nil {
		*keep = (*keep)[:0]
	}
	f.h.ServeHTTP(&f.w, r)
	if f.w.code != http.StatusOK {
		return fmt.Errorf("GET %s: %d", target, f.w.code)
	}
	return nil
}

// recorder is a ResponseWriter that keeps the body only when asked to.
type recorder struct {
	h    http.Header
	code int
	keep *[]byte
}

func (w *recorder) Header() http.Header  { return w.h }
func (w *recorder) WriteHeader(code int) { w.code = code }
func (w *recorder) Write(b []byte) (int, error) {
	if w.keep != nil {
		*w.keep = append(*w.keep, b...)
	}
	return len(b), nil
}

// connFetcher is a minimal HTTP/1.1 keep-alive client (as bench/hlsload's): Content-Length bodies only.
type connFetcher struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
}

func (f *connFetcher) close() {
	if f.c != nil {
		f.c.Close()
	}
}

func (f *connFetcher) get(ctx context.Context, target string, keep *[]byte) error {
	if f.c == nil {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			return err
		}
		f.c, f.br = c, bufio.NewReaderSize(c, 64<<10)
	}
	f.wbuf = append(f.wbuf[:0], "GET "...)
	f.wbuf = append(f.wbuf, target...)
	f.wbuf = append(f.wbuf, " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"...)
	if _, err := f.c.Write(f.wbuf); err != nil {
		return err
	}
	status, n := 0, -1
	for first := true; ; first = false {
		line, err := f.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if first {
			if len(line) < 12 {
				return fmt.Errorf("bad status line %q", line)
			}
			status, _ = strconv.Atoi(string(line[9:12]))
		} else if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return fmt.Errorf("GET %s: %d without Content-Length", target, status)
	}
	if keep != nil {
		*keep = (*keep)[:0]
		for n > 0 {
			b, err := f.br.Peek(min(n, f.br.Size()))
			if err != nil && len(b) == 0 {
				return err
			}
			*keep = append(*keep, b...)
			f.br.Discard(len(b))
			n -= len(b)
		}
	} else if _, err := f.br.Discard(n); err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: %d", target, status)
	}
	return nil
}

// BenchmarkServe is the playback front's own cost per request, one request at a time, nothing to wait for: a
// blocking playlist reload for the newest part (answered at once) and that part, each against the bare handler
// doing only the media work (bareHandler) on the same stream in the same run. ServeHTTP is called directly.
func BenchmarkServe(b *testing.B) {
	s, _, p := livePublisher(b, "TS")
	for range len(p.frames) + 15 { // the fixture, then half a second into its next loop: a segment under way
		p.write()
	}
	rd := s.channels["us-west-2.111111111111.channel.abcdefghijkl"].renditions[0]
	var mv, pl []byte
	f := &handlerFetcher{h: s}
	if err := f.get(context.Background(), playbackPath, &mv); err != nil {
		b.Fatal(err)
	}
	variant := strings.TrimSpace(string(mv[bytes.LastIndex(mv, []byte("\n/v1/playlist/")):]))
	if err := f.get(context.Background(), variant, &pl); err != nil {
		b.Fatal(err)
	}
	msn, part, err := preloadHint(pl)
	if err != nil {
		b.Fatal(err)
	}
	if part == 0 {
		b.Fatal("the fixture should end inside a segment")
	}
	playlist := fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d&_HLS_skip=YES", variant, msn, part-1)
	partURL := fmt.Sprintf("%s108p30/%d.%d.ts", variant[:strings.LastIndex(variant, "/")+1], msn, part-1)
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"playback", s}, {"bare", bareHandler(rd)}} {
		for _, req := range []struct{ name, target string }{{"playlist", playlist}, {"part", partURL}} {
			b.Run(req.name+"/"+h.name, func(b *testing.B) {
				f := &handlerFetcher{h: h.h}
				var body []byte
				b.ReportAllocs()
				for b.Loop() {
					if err := f.get(context.Background(), req.target, &body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
