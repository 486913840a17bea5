// Command hlsceiling is the fan-out ceiling for bench/hlsload's LL-HLS viewers: one live rendition packaged by
// openivs's own muxer (internal/hls, LOW latency, MPEG-TS) from a source looped at real time, served by a front
// that does nothing else: no sessions, no tokens, no CORS, no viewer counts.
//
//	-front http  net/http with a bare handler (the muxer's Wait, SharedPlaylist and WaitPart; Content-Type and
//	             Content-Length): what openivs's playback costs when its own code costs nothing
//	-front raw   a minimal HTTP/1.1 keep-alive loop on raw TCP (request line and headers read with one bufio.Reader,
//	             the response's head and body in one writev), no goroutine per request: the ceiling of this
//	             machine's loopback TCP with the load tool on the same cores, for a goroutine per connection
//	-front epoll the same answers from -loops event loops (epoll_linux.go): no goroutine per connection, no read
//	             that finds nothing, blocking requests parked on a list: the ceiling of an evented design
//
// It answers GET /live.m3u8 (a multivariant playlist naming v/720p30.m3u8), GET /v/720p30.m3u8 with
// _HLS_msn/_HLS_part (blocking) and _HLS_skip, and GET /v/720p30/<msn>.<part>.ts (a part, waited for when it is
// the next one). Anything else is 404. The raw front assumes well-formed GETs from hlsload: it is a measuring
// instrument, not a server; never expose it.
//
//	hlsceiling -src src.ts -addr 127.0.0.1:18090 -front raw
//	hlsload -url http://127.0.0.1:18090/live.m3u8 -n 5000 -ramp 15s -d 30s -target-pid <pid>
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/mediatest"
)

const (
	prefix      = "720p30/"
	waitTimeout = 6 * time.Second
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	src := flag.String("src", "", "H.264 + AAC MPEG-TS source, looped at real time (e.g. ffmpeg -i .cache/bench-720p30.flv -c copy src.ts)")
	front := flag.String("front", "raw", "raw, http or epoll")
	loops := flag.Int("loops", runtime.NumCPU(), "event loops of the epoll front (GOMAXPROCS is set to this plus one)")
	flag.Parse()
	if *src == "" || (*front != "raw" && *front != "http" && *front != "epoll") || *loops < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ts, err := mediatest.ReadTS(*src)
	if err != nil {
		log.Fatal(err)
	}
	m, err := newMuxer(ts)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go publish(ctx, m, ts.Frames)

	if *front == "epoll" {
		runtime.GOMAXPROCS(*loops + 1)
		log.Printf("hlsceiling: epoll front (%d loops) on http://%s/live.m3u8", *loops, *addr)
		if err := serveEpoll(ctx, m, *addr, *loops); err != nil {
			log.Fatal(err)
		}
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("hlsceiling: %s front on http://%s/live.m3u8", *front, ln.Addr())
	go func() { <-ctx.Done(); ln.Close() }()
	if *front == "http" {
		srv := &http.Server{Handler: handler(m), IdleTimeout: 120 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
		return
	}
	acceptRaw(ctx, ln, m)
}

// acceptRaw serves ln's connections with serveRaw until ln is closed.
func acceptRaw(ctx context.Context, ln net.Listener, m *hls.Muxer) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveRaw(ctx, c, m)
	}
}

// newMuxer makes the LOW latency MPEG-TS muxer for ts's tracks.
func newMuxer(ts *mediatest.TS) (*hls.Muxer, error) {
	var sps h264.SPS
	if err := sps.Unmarshal(ts.SPS); err != nil {
		return nil, fmt.Errorf("source SPS: %w", err)
	}
	return hls.New(hls.Config{LowLatency: true, Container: hls.ContainerTS,
		Video: hls.VideoTrack{Kind: hls.H264, SPS: ts.SPS, PPS: ts.PPS, Codec: "avc1.64001F", Width: sps.Width(), Height: sps.Height()},
		Audio: &hls.AudioTrack{Config: ts.AAC, Codec: "mp4a.40.2"}})
}

// publish writes the source's frames into the muxer at real time, looped (timestamps continue across loops).
func publish(ctx context.Context, m *hls.Muxer, frames []mediatest.Frame) {
	var first, last time.Duration = frames[0].DTS, 0
	for _, f := range frames {
		last = max(last, f.DTS)
	}
	loop := last - first + 33*time.Millisecond
	start := time.Now()
	for n := 0; ; n++ {
		off := time.Duration(n) * loop
		for _, f := range frames {
			due := start.Add(f.DTS - first + off)
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					m.Close()
					return
				case <-time.After(d):
				}
			}
			if f.Video {
				if err := m.WriteVideo(f.PTS+off, f.DTS+off, f.AU); err != nil {
					log.Fatal(err)
				}
			} else {
				m.WriteAAC(f.PTS+off, f.AU[0])
			}
		}
	}
}

var multivariant = []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=3600000,CODECS=\"avc1.64001F,mp4a.40.2\"\nv/720p30.m3u8\n")

// route is what a request asks for.
type route struct {
	kind  int // one of the route constants
	msn   uint64
	part  int  // the part (_HLS_part for a playlist: 0 when absent; hlsload always sends it)
	skip  bool // _HLS_skip=YES
	block bool // a blocking playlist reload (_HLS_msn given)
}

const (
	routeNone = iota // 404
	routeMultivariant
	routePlaylist
	routePart
)

func parseRoute(path, query string) route {
	switch {
	case path == "/live.m3u8":
		return route{kind: routeMultivariant}
	case path == "/v/720p30.m3u8":
		r := route{kind: routePlaylist}
		for kv := range strings.SplitSeq(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "_HLS_msn":
				r.msn, _ = strconv.ParseUint(v, 10, 64)
				r.block = true
			case "_HLS_part":
				r.part, _ = strconv.Atoi(v)
			case "_HLS_skip":
				r.skip = v == "YES"
			}
		}
		return r
	case strings.HasPrefix(path, "/v/"+prefix):
		name := strings.TrimSuffix(path[len("/v/"+prefix):], ".ts")
		ms, ps, found := strings.Cut(name, ".")
		msn, err1 := strconv.ParseUint(ms, 10, 64)
		i, err2 := strconv.Atoi(ps)
		if found && err1 == nil && err2 == nil {
			return route{kind: routePart, msn: msn, part: i}
		}
	}
	return route{}
}

// appendHead appends the response head for body (a 404 for a nil body).
func appendHead(h, body []byte, ctype string) []byte {
	if body == nil {
		return append(h, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"...)
	}
	h = append(h, "HTTP/1.1 200 OK\r\nContent-Type: "...)
	h = append(h, ctype...)
	h = append(h, "\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	return append(h, "\r\n\r\n"...)
}

const (
	m3u8 = "application/vnd.apple.mpegurl"
	mp2t = "video/mp2t"
)

// answer does a request's media work: the body and its content type, or ok false for a 404.
func answer(ctx context.Context, m *hls.Muxer, path, query string) (body []byte, ctype string, ok bool) {
	switch r := parseRoute(path, query); r.kind {
	case routeMultivariant:
		return multivariant, m3u8, true
	case routePlaylist:
		if r.block {
			if err := m.Wait(ctx, r.msn, r.part, waitTimeout); err != nil {
				return nil, "", false
			}
		}
		return m.SharedPlaylist(prefix, r.skip), m3u8, true
	case routePart:
		p, err := m.WaitPart(ctx, r.msn, r.part, waitTimeout)
		if err != nil {
			return nil, "", false
		}
		return p.Data, mp2t, true
	}
	return nil, "", false
}

func handler(m *hls.Muxer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ctype, ok := answer(r.Context(), m, r.URL.Path, r.URL.RawQuery)
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{ctype}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	})
}

// serveRaw answers one keep-alive connection's GETs in order.
func serveRaw(ctx context.Context, c net.Conn, m *hls.Muxer) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	head := make([]byte, 0, 128)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		// "GET /path?query HTTP/1.1"
		f := bytes.Fields(line)
		if len(f) != 3 || string(f[0]) != "GET" {
			return
		}
		target := string(f[1])
		for { // headers: ignored
			h, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimRight(h, "\r\n")) == 0 {
				break
			}
		}
		path, query, _ := strings.Cut(target, "?")
		body, ctype, ok := answer(ctx, m, path, query)
		if !ok {
			body = nil
		}
		head = appendHead(head[:0], body, ctype)
		bufs := net.Buffers{head, body}
		if _, err := bufs.WriteTo(c); err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintln(os.Stderr, "hlsceiling: write:", err)
			}
			return
		}
	}
}
