//go:build linux

package main

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// published is the shared table of when each part (LL-HLS) or segment (plain HLS) was first seen listed in a
// playlist by any viewer: its publication time. Times are nanoseconds since the run's origin.
type published struct {
	mu    sync.Mutex
	first map[uint64]int64
	end   map[uint64]int64 // the media's end (program date-time), since the origin; absent when unknown
}

func (p *published) saw(key uint64, at int64, end int64, hasEnd bool) {
	p.mu.Lock()
	if t, ok := p.first[key]; !ok || at < t {
		p.first[key] = at
	}
	if _, ok := p.end[key]; !ok && hasEnd {
		p.end[key] = end
	}
	p.mu.Unlock()
}

// receipt is a part or segment a viewer received in full.
type receipt struct {
	key uint64
	at  int64 // since the origin
}

// What a viewer's in-flight request, or its pending timer, is for.
const (
	stepBegin    = iota // timer: start (or start again) from the playback URL
	stepJoin            // request: the playback URL or a variant it leads to
	stepPlaylist        // request: the media playlist (blocking reload for LL-HLS); timer: ask for it
	stepItem            // request: a part or segment
)

// viewer is one simulated player: a state machine driven by its loop (one connection, one request at a time).
type viewer struct {
	id int
	r  *runner
	l  *loop

	// the connection (loop.go)
	fd        int
	state     int
	wbuf      []byte
	woff      int
	rbuf      []byte
	rr, rw    int
	resp      response
	deadline  int64
	dials     int
	timerGen  uint32
	timerStep int
	body      []byte // the last kept response body (the playlist being worked through)
	probeOnly bool   // stop after joining, with no retry (the run's first check that the stream plays)
	stopped   bool
	step      int
	joinPath  string
	hops      int // multivariant playlists followed in this join
	attempts  int // joins that failed
	rejoining bool
	media     string // the media playlist's request path
	ll        bool
	p         playlist
	last      uint64 // key of the newest item seen listed
	fetched   uint64 // key of the newest item fetched (or given up)
	todo      []item // listed items to fetch, in order (their URIs point into body)
	cur       uint64 // key of the item being fetched
	fails     int    // playlist failures in a row
	interval  int64  // plain HLS: between polls, ns
	nextPoll  int64  // plain HLS: loop time of the next poll
	itemWhat  string // "part" or "segment", for errors

	// results, read after the run
	got     []receipt
	joined  bool
	joinErr error
	joins   int              // multivariant requests that opened a session
	errs    map[string]int64 // by kind: "HTTP 404 part", "transport playlist", ...
	lastErr map[string]string
	ended   bool // the stream ended (EXT-X-ENDLIST)
}

func (v *viewer) fail(what string, err error) {
	var he *httpError
	k := ""
	switch {
	case errors.As(err, &he):
		k = "HTTP " + strconv.Itoa(he.status) + " " + what
	case errors.Is(err, os.ErrDeadlineExceeded):
		k = "timeout " + what
	case errors.Is(err, syscall.ECONNREFUSED):
		k = "refused " + what
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		k = "reset " + what
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		k = "too many open files " + what
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			k = "network " + what
		} else {
			k = "transport " + what
		}
	}
	if v.errs == nil {
		v.errs, v.lastErr = map[string]int64{}, map[string]string{}
	}
	v.errs[k]++
	v.lastErr[k] = err.Error()
}

func (v *viewer) count(n int64) {
	v.r.reqs.Add(1)
	v.r.bytes.Add(n)
}

func (v *viewer) stop() {
	if !v.stopped {
		v.stopped = true
		v.l.stopped++
	}
	v.closeConn()
}

func (v *viewer) onTimer() {
	switch v.timerStep {
	case stepBegin:
		v.hops = 0
		v.join(v.r.path)
	case stepPlaylist:
		v.requestPlaylist()
	}
}

// onResponse continues after the in-flight request ended: n body bytes, err a transport error or *httpError.
func (v *viewer) onResponse(n int64, err error) {
	v.count(n)
	switch v.step {
	case stepJoin:
		v.onJoin(err)
	case stepPlaylist:
		v.onPlaylist(err)
	case stepItem:
		v.onItem(err)
	}
}

// join loads path, the playback URL or a variant (a multivariant playlist opens a session: its first variant is
// followed, up to 3 deep), up to the media playlist.
func (v *viewer) join(path string) {
	v.step, v.joinPath = stepJoin, path
	v.wbuf = append(append(v.wbuf[:0], "GET "...), path...)
	v.send(true)
}

func (v *viewer) onJoin(err error) {
	if err == nil {
		parsePlaylist(v.body, &v.p)
		if v.p.multivariant {
			v.joins++
			v.hops++
			switch {
			case len(v.p.variants) == 0:
				err = errors.New("multivariant playlist without variants")
			case v.hops >= 3:
				err = errors.New("multivariant playlists lead to multivariant playlists")
			default:
				v.join(resolve(v.joinPath, v.p.variants[0]))
				return
			}
		}
	}
	if v.rejoining { // after five failed playlists in a row: whatever came of it, go on from the playlist
		v.rejoining = false
		if err != nil {
			v.fail("rejoin", err)
		} else {
			v.media = v.joinPath
		}
		v.after(v.r.now()+200e6, stepPlaylist)
		return
	}
	if err != nil {
		v.fail("join", err)
		v.attempts++
		if v.probeOnly || v.attempts >= 5 {
			v.joinErr = err
			v.stop()
			return
		}
		v.after(v.r.now()+1e9, stepBegin)
		return
	}
	v.media = v.joinPath
	v.joined = true
	if v.probeOnly {
		v.stop()
		return
	}
	r := v.r
	v.ll = v.p.blocking && v.p.partTarget > 0 && !r.o.plain
	v.itemWhat = "segment"
	if v.ll {
		r.ll.Store(true)
		v.itemWhat = "part"
	}
	// Only what is listed after this point is measured: the newest item listed now is the viewer's starting point.
	if v.ll {
		if n := len(v.p.parts); n > 0 {
			v.last = v.p.parts[n-1].key()
		}
	} else if n := len(v.p.segments); n > 0 {
		v.last = v.p.segments[n-1].key()
	}
	v.fetched = v.last
	v.interval = (v.p.target / 2).Nanoseconds()
	if v.interval <= 0 {
		v.interval = 500e6
	}
	v.nextPoll = r.now() + rand.Int64N(v.interval) // plain HLS: spread the polls
	v.requestPlaylist()
}

// requestPlaylist asks for the media playlist: LL-HLS, at once, blocking for the part after the last one listed;
// plain HLS, at the next poll.
func (v *viewer) requestPlaylist() {
	v.step = stepPlaylist
	v.wbuf = append(append(v.wbuf[:0], "GET "...), v.media...)
	if v.ll {
		if strings.IndexByte(v.media, '?') >= 0 {
			v.wbuf = append(v.wbuf, "&_HLS_msn="...)
		} else {
			v.wbuf = append(v.wbuf, "?_HLS_msn="...)
		}
		v.wbuf = strconv.AppendUint(v.wbuf, v.p.nextMSN, 10)
		v.wbuf = append(v.wbuf, "&_HLS_part="...)
		v.wbuf = strconv.AppendInt(v.wbuf, int64(v.p.nextPart), 10)
		if v.r.o.skip && v.p.canSkip {
			v.wbuf = append(v.wbuf, "&_HLS_skip=YES"...)
		}
		v.send(true)
		return
	}
	now := v.r.now()
	if v.nextPoll > now {
		v.after(v.nextPoll, stepPlaylist)
		return
	}
	v.nextPoll += v.interval
	if v.nextPoll < now {
		v.nextPoll = now + v.interval
	}
	v.send(true)
}

func (v *viewer) onPlaylist(err error) {
	r := v.r
	at := r.now()
	if err != nil {
		v.fail("playlist", err)
		v.fails++
		if v.fails >= 5 { // a lost session: start again from the playback URL
			v.fails = 0
			v.rejoining, v.hops = true, 0
			v.join(r.path)
			return
		}
		v.after(at+200e6, stepPlaylist)
		return
	}
	v.fails = 0
	parsePlaylist(v.body, &v.p)
	items := v.p.segments
	if v.ll {
		items = v.p.parts
	}
	// publication: the first listing of each new item
	newest := v.last
	for _, it := range items {
		k := it.key()
		if k <= v.last {
			continue
		}
		end := int64(0)
		if !it.end.IsZero() {
			end = it.end.Sub(r.origin).Nanoseconds()
		}
		r.pub.saw(k, at, end, !it.end.IsZero())
		newest = max(newest, k)
	}
	v.last = newest
	v.todo = items
	v.fetchNext()
}

// fetchNext fetches the next listed item not fetched yet, in order, on the same connection; then the playlist.
func (v *viewer) fetchNext() {
	for len(v.todo) > 0 {
		it := v.todo[0]
		v.todo = v.todo[1:]
		k := it.key()
		if k <= v.fetched {
			continue
		}
		v.step, v.cur = stepItem, k
		v.wbuf = appendResolved(append(v.wbuf[:0], "GET "...), v.media, it.uri)
		v.send(false)
		return
	}
	if v.p.endList {
		v.ended = true
		v.stop()
		return
	}
	v.requestPlaylist()
}

func (v *viewer) onItem(err error) {
	v.fetched = v.cur
	if err != nil {
		v.fail(v.itemWhat, err)
	} else {
		v.got = append(v.got, receipt{key: v.cur, at: v.r.now()})
	}
	v.fetchNext()
}

// runner holds what viewers share.
type runner struct {
	o      options
	path   string // the playback URL's path and query
	origin time.Time
	pub    published
	ll     atomic.Bool  // some viewer played LL-HLS
	reqs   atomic.Int64 // requests made by all viewers
	bytes  atomic.Int64 // body bytes received by all viewers
}

// now is the time since the run's origin, in ns.
func (r *runner) now() int64 { return int64(time.Since(r.origin)) }
