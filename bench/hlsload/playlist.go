package main

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// What a viewer needs from a playlist, parsed without copying: the slices point into the response body and are
// valid until the viewer's next request.

// item is a part (LL-HLS) or a whole segment (plain HLS) listed in a media playlist.
type item struct {
	msn  uint64
	part int // -1: a whole segment
	uri  []byte
	// end is the wall clock at which the item's media ends, from EXT-X-PROGRAM-DATE-TIME plus the durations before
	// it in its segment (zero when the playlist has no date-time)
	end time.Time
}

// key orders and names items: segment msn's parts are msn<<8 | part, the segment itself msn<<8 | 0xff.
func (it item) key() uint64 {
	if it.part < 0 {
		return it.msn<<8 | 0xff
	}
	return it.msn<<8 | uint64(it.part)
}

type playlist struct {
	multivariant bool
	variants     [][]byte // multivariant: the variant URIs

	target     time.Duration // EXT-X-TARGETDURATION
	blocking   bool          // CAN-BLOCK-RELOAD=YES
	canSkip    bool          // CAN-SKIP-UNTIL
	endList    bool
	parts      []item // EXT-X-PART, in order
	segments   []item // complete segments (part = -1), in order
	nextMSN    uint64 // the next part to ask for: the preload hint, or the one after the last part
	nextPart   int
	hasHint    bool
	partTarget time.Duration
}

func attr(line []byte, name string) []byte {
	// NAME=value or NAME="value" in an attribute list
	i := 0
	for {
		j := bytes.Index(line[i:], []byte(name+"="))
		if j < 0 {
			return nil
		}
		j += i
		if j == 0 || line[j-1] == ',' || line[j-1] == ':' {
			v := line[j+len(name)+1:]
			if len(v) > 0 && v[0] == '"' {
				if k := bytes.IndexByte(v[1:], '"'); k >= 0 {
					return v[1 : 1+k]
				}
				return nil
			}
			if k := bytes.IndexByte(v, ','); k >= 0 {
				return v[:k]
			}
			return v
		}
		i = j + 1
	}
}

func seconds(b []byte) time.Duration {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// parsePlaylist parses a multivariant or media playlist into p (reusing its slices).
func parsePlaylist(body []byte, p *playlist) {
	*p = playlist{variants: p.variants[:0], parts: p.parts[:0], segments: p.segments[:0]}
	var msn uint64
	part := 0
	var segStart time.Time // PDT of the current segment
	var inSeg time.Duration
	var segDur time.Duration
	streamInf := false
	lastWasSegment := false
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' {
			switch {
			case streamInf:
				p.multivariant = true
				p.variants = append(p.variants, line)
				streamInf = false
			case segDur > 0 || lastWasSegment:
				it := item{msn: msn, part: -1, uri: line}
				if !segStart.IsZero() {
					it.end = segStart.Add(segDur)
				}
				p.segments = append(p.segments, it)
				msn++
				part = 0
				segStart, inSeg, segDur = time.Time{}, 0, 0
				lastWasSegment = false
			}
			continue
		}
		tag, val, _ := bytes.Cut(line, []byte(":"))
		switch string(tag) {
		case "#EXT-X-STREAM-INF":
			streamInf = true
		case "#EXT-X-TARGETDURATION":
			p.target = seconds(val)
		case "#EXT-X-MEDIA-SEQUENCE":
			msn, _ = strconv.ParseUint(string(val), 10, 64)
		case "#EXT-X-SKIP":
			n, _ := strconv.ParseUint(string(attr(val, "SKIPPED-SEGMENTS")), 10, 64)
			msn += n
		case "#EXT-X-SERVER-CONTROL":
			p.blocking = string(attr(val, "CAN-BLOCK-RELOAD")) == "YES"
			p.canSkip = attr(val, "CAN-SKIP-UNTIL") != nil
		case "#EXT-X-PART-INF":
			p.partTarget = seconds(attr(val, "PART-TARGET"))
		case "#EXT-X-PROGRAM-DATE-TIME":
			if t, err := time.Parse(time.RFC3339Nano, string(val)); err == nil {
				segStart = t
			}
		case "#EXT-X-PART":
			inSeg += seconds(attr(val, "DURATION"))
			it := item{msn: msn, part: part, uri: attr(val, "URI")}
			if !segStart.IsZero() {
				it.end = segStart.Add(inSeg)
			}
			p.parts = append(p.parts, it)
			part++
		case "#EXTINF":
			d, _, _ := bytes.Cut(val, []byte(","))
			segDur = seconds(d)
			lastWasSegment = true
		case "#EXT-X-PRELOAD-HINT":
			if string(attr(val, "TYPE")) == "PART" {
				p.hasHint = true
			}
		case "#EXT-X-ENDLIST":
			p.endList = true
		}
	}
	// The next part: the preload hint is the part after the last one listed (its URI is the server's business; its
	// position is what _HLS_msn/_HLS_part name).
	p.nextMSN, p.nextPart = msn, part
}

// resolve makes a URI found in a playlist fetched at base ("/path/x.m3u8?q") into a request path.
func resolve(base string, uri []byte) string { return string(appendResolved(nil, base, uri)) }

// appendResolved appends resolve(base, uri) to dst.
func appendResolved(dst []byte, base string, uri []byte) []byte {
	switch {
	case bytes.HasPrefix(uri, []byte("http://")) || bytes.HasPrefix(uri, []byte("https://")):
		rest := uri[bytes.Index(uri, []byte("//"))+2:]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			return append(dst, rest[i:]...)
		}
		return append(dst, '/')
	case bytes.HasPrefix(uri, []byte("/")):
		return append(dst, uri...)
	}
	dir := base
	if i := strings.IndexByte(dir, '?'); i >= 0 {
		dir = dir[:i]
	}
	dir = dir[:strings.LastIndexByte(dir, '/')+1]
	return append(append(dst, dir...), uri...)
}
