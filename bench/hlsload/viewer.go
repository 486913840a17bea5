package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
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

type viewer struct {
	id int
	r  *runner
	h  httpConn

	// written by the viewer's goroutine, read after it ended
	got     []receipt
	joined  bool
	joinErr error
	joins   int              // multivariant requests that opened a session
	errs    map[string]int64 // by kind: "HTTP 404 part", "transport playlist", ...
	lastErr map[string]string
	ended   bool // the stream ended (EXT-X-ENDLIST)
}

func (v *viewer) fail(kind, what string, err error) {
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
	if kind != "" {
		k = kind + ": " + k
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

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// join loads the playback URL (a multivariant playlist opens a session: follow its first variant) and the media
// playlist once; it returns the media playlist's request path.
func (v *viewer) join(ctx context.Context, body []byte, p *playlist) (string, []byte, error) {
	r := v.r
	path := r.path
	for range 3 {
		b, n, err := v.h.get(path, body)
		body = b

		v.count(n)
		if err != nil {
			return "", body, err
		}
		parsePlaylist(body, p)
		if !p.multivariant {
			return path, body, nil
		}
		v.joins++
		if len(p.variants) == 0 {
			return "", body, errors.New("multivariant playlist without variants")
		}
		path = resolve(path, p.variants[0])
	}
	return "", body, errors.New("multivariant playlists lead to multivariant playlists")
}

func (v *viewer) run(ctx context.Context, start time.Time) {
	r := v.r
	if !sleep(ctx, time.Until(start)) {
		return
	}
	defer v.h.close()
	body := make([]byte, 0, 16<<10)
	var p playlist
	var media string
	var err error
	for attempt := 0; ; attempt++ {
		media, body, err = v.join(ctx, body, &p)
		if err == nil {
			break
		}
		v.fail("", "join", err)
		if attempt >= 4 || !sleep(ctx, time.Second) {
			v.joinErr = err
			return
		}
	}
	v.joined = true
	ll := p.blocking && p.partTarget > 0 && !r.o.plain
	if ll {
		r.ll.Store(true)
	}
	// Only what is listed after this point is measured: the newest item listed now is the viewer's starting point.
	var last uint64 // key of the newest item seen listed
	if ll {
		if n := len(p.parts); n > 0 {
			last = p.parts[n-1].key()
		}
	} else if n := len(p.segments); n > 0 {
		last = p.segments[n-1].key()
	}
	fetched := last
	origin := r.origin
	fails := 0
	interval := p.target / 2
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	nextPoll := time.Now().Add(time.Duration(rand.Int64N(int64(interval)))) // plain HLS: spread the polls
	var q []byte
	for ctx.Err() == nil {
		// the next playlist
		var reqPath string
		if ll {
			q = append(q[:0], media...)
			q = append(q, "?_HLS_msn="...)
			q = strconv.AppendUint(q, p.nextMSN, 10)
			q = append(q, "&_HLS_part="...)
			q = strconv.AppendInt(q, int64(p.nextPart), 10)
			if r.o.skip && p.canSkip {
				q = append(q, "&_HLS_skip=YES"...)
			}
			reqPath = string(q)
		} else {
			if !sleep(ctx, time.Until(nextPoll)) {
				return
			}
			nextPoll = nextPoll.Add(interval)
			if now := time.Now(); nextPoll.Before(now) {
				nextPoll = now.Add(interval)
			}
			reqPath = media
		}
		b, n, err := v.h.get(reqPath, body)
		body = b
		at := time.Since(origin).Nanoseconds()

		v.count(n)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.fail("", "playlist", err)
			fails++
			if fails >= 5 { // a lost session: start again from the playback URL
				if media, body, err = v.join(ctx, body, &p); err != nil {
					v.fail("", "rejoin", err)
				}
				fails = 0
			}
			if !sleep(ctx, 200*time.Millisecond) {
				return
			}
			continue
		}
		fails = 0
		parsePlaylist(body, &p)
		items := p.segments
		if ll {
			items = p.parts
		}
		// publication: the first listing of each new item
		newest := last
		for _, it := range items {
			k := it.key()
			if k <= last {
				continue
			}
			end := int64(0)
			if !it.end.IsZero() {
				end = it.end.Sub(origin).Nanoseconds()
			}
			r.pub.saw(k, at, end, !it.end.IsZero())
			newest = max(newest, k)
		}
		last = newest
		// fetch what is new, in order, on the same connection
		for _, it := range items {
			k := it.key()
			if k <= fetched {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			_, n, err := v.h.get(resolve(media, it.uri), nil)

			v.count(n)
			fetched = k
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				v.fail("", map[bool]string{true: "part", false: "segment"}[ll], err)
				continue
			}
			v.got = append(v.got, receipt{key: k, at: time.Since(origin).Nanoseconds()})
		}
		if p.endList {
			v.ended = true
			return
		}
	}
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
