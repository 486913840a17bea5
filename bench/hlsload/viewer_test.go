//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// origin is a fake live stream: a part every partDur, partsPerSeg parts a segment, served as LL-HLS (blocking
// reload, preload hint, delta updates) or plain HLS, behind a multivariant playlist.
type origin struct {
	start       time.Time
	partDur     time.Duration
	partsPerSeg int
	partSize    int
	sessions    atomic.Int64
	requests    atomic.Int64
	partGets    atomic.Int64
	blocked     atomic.Int64 // blocking reloads that had to wait
	// every closeEvery-th media request is answered with Connection: close, every chunkEvery-th part chunked
	closeEvery, chunkEvery int64
}

// published is how many parts exist at t.
func (o *origin) published(t time.Time) int { return int(t.Sub(o.start) / o.partDur) }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := o.requests.Add(1)
	if o.closeEvery > 0 && n%o.closeEvery == 0 {
		w.Header().Set("Connection", "close")
	}
	switch {
	case r.URL.Path == "/live.m3u8":
		o.sessions.Add(1)
		fmt.Fprintf(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nmedia/v.m3u8?session=%d\n", o.sessions.Load())
	case r.URL.Path == "/media/v.m3u8":
		o.playlist(w, r)
	case strings.HasPrefix(r.URL.Path, "/media/p"):
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/media/p"), ".ts"))
		if err != nil || i >= o.published(time.Now()) {
			http.NotFound(w, r)
			return
		}
		o.partGets.Add(1)
		body := []byte(strings.Repeat("p", o.partSize))
		if o.chunkEvery > 0 && int64(i)%o.chunkEvery == 0 {
			w.Write(body[:10])
			w.(http.Flusher).Flush()
			w.Write(body[10:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	case strings.HasPrefix(r.URL.Path, "/media/s"):
		w.Header().Set("Content-Length", strconv.Itoa(o.partSize*o.partsPerSeg))
		w.Write([]byte(strings.Repeat("s", o.partSize*o.partsPerSeg)))
	default:
		http.NotFound(w, r)
	}
}

func (o *origin) playlist(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	have := o.published(time.Now())
	if msn := q.Get("_HLS_msn"); msn != "" {
		m, _ := strconv.Atoi(msn)
		p, _ := strconv.Atoi(q.Get("_HLS_part"))
		want := m*o.partsPerSeg + p + 1 // parts that must exist
		if want > have {
			o.blocked.Add(1)
			time.Sleep(time.Until(o.start.Add(time.Duration(want) * o.partDur)))
			have = o.published(time.Now())
		}
	}
	segs := have / o.partsPerSeg
	first := max(0, segs-4)
	var b strings.Builder
	sec := o.partDur.Seconds()
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f\n", 3*sec)
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%.3f\n#EXT-X-MEDIA-SEQUENCE:%d\n", sec, first)
	for s := first; s <= segs; s++ {
		for p := range o.partsPerSeg {
			i := s*o.partsPerSeg + p
			if i >= have {
				break
			}
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%.3f,URI=\"p%d.ts\"\n", sec, i)
		}
		if s < segs {
			fmt.Fprintf(&b, "#EXTINF:%.3f,\ns%d.ts\n", sec*float64(o.partsPerSeg), s)
		}
	}
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p%d.ts\"\n", have)
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Write([]byte(b.String()))
}

func runAgainst(t *testing.T, o *origin, opt options) *result {
	t.Helper()
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/live.m3u8")
	opt.url, opt.timeout, opt.loops, opt.skip = u.String(), 5*time.Second, max(opt.loops, 1), true
	if opt.within == 0 {
		opt.within = time.Second
	}
	if err := probe(opt, u.Host, u.Host, u.RequestURI()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	res, err := measure(opt, u.Host, u.Host, u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestViewersLL(t *testing.T) {
	o := &origin{start: time.Now().Add(-2 * time.Second), partDur: 50 * time.Millisecond, partsPerSeg: 4, partSize: 30000,
		closeEvery: 37, chunkEvery: 3}
	res := runAgainst(t, o, options{n: 20, ramp: 200 * time.Millisecond, settle: 300 * time.Millisecond,
		dur: 1500 * time.Millisecond, grace: 500 * time.Millisecond, loops: 2})
	if res.Mode != "ll-hls" || res.Joined != 20 || res.Errors != 0 {
		t.Fatalf("mode %s, joined %d, errors %d %v", res.Mode, res.Joined, res.Errors, res.ErrorSample)
	}
	// 1.5 s of 50 ms parts, give or take the edges
	if res.Parts < 25 || res.Parts > 32 || res.Missed != 0 || res.Received != int64(res.Parts)*20 || res.Within != 1 {
		t.Fatalf("parts %d, missed %d, received %d, within %.3f", res.Parts, res.Missed, res.Received, res.Within)
	}
	// 20 sessions (and the probe's), connections re-dialled after the closes, blocking reloads that waited
	if res.Joins != 20 || o.sessions.Load() != 21 || res.Dials <= 20 || o.blocked.Load() < 100 {
		t.Fatalf("sessions %d (origin %d), dials %d, blocked reloads %d", res.Joins, o.sessions.Load(), res.Dials, o.blocked.Load())
	}
	// every request counted, but those still waiting when the run stopped (one a viewer at most) and the probe's two
	if inFlight := o.requests.Load() - 2 - res.Requests; inFlight < 0 || inFlight > 20 || res.P99 > 500 {
		t.Fatalf("requests %d (origin %d), p99 %.0f ms", res.Requests, o.requests.Load(), res.P99)
	}
}

func TestViewersPlain(t *testing.T) {
	o := &origin{start: time.Now().Add(-2 * time.Second), partDur: 50 * time.Millisecond, partsPerSeg: 4, partSize: 1000}
	res := runAgainst(t, o, options{n: 10, ramp: 100 * time.Millisecond, settle: 300 * time.Millisecond,
		dur: 1200 * time.Millisecond, grace: 1500 * time.Millisecond, plain: true})
	if res.Mode != "hls" || res.Joined != 10 || res.Errors != 0 || o.partGets.Load() != 0 {
		t.Fatalf("mode %s, joined %d, errors %d %v, part requests %d", res.Mode, res.Joined, res.Errors, res.ErrorSample, o.partGets.Load())
	}
	// 200 ms segments over 1.2 s; polled every half target duration (0.5 s), so up to 0.5 s late
	if res.Parts < 5 || res.Parts > 7 || res.Missed != 0 || res.Max > 700 {
		t.Fatalf("segments %d, missed %d, max delay %.0f ms", res.Parts, res.Missed, res.Max)
	}
}

func TestViewersCountErrors(t *testing.T) {
	// a playback URL that is gone: every viewer fails to join, five times, and the run says so
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/live.m3u8")
	opt := options{url: u.String(), n: 3, dur: 100 * time.Millisecond, timeout: time.Second, loops: 1, within: time.Second}
	if err := probe(opt, u.Host, u.Host, u.RequestURI()); err == nil || err.Error() != "HTTP 404" {
		t.Fatalf("probe: %v", err)
	}
	opt.grace = 4500 * time.Millisecond // five attempts a second apart
	res, err := measure(opt, u.Host, u.Host, u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	if res.Joined != 0 || res.Errors != 15 || res.ErrorKinds["HTTP 404 join"] != 15 {
		t.Fatalf("joined %d, errors %d %v", res.Joined, res.Errors, res.ErrorKinds)
	}
}
