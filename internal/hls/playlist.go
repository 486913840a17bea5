package hls

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// URLs names what a media playlist refers to: the playback front decides the layout and the signed authorisation.
type URLs interface {
	Init() string
	Segment(msn uint64) string
	Part(msn uint64, i int) string
}

// RelativeURLs is the plain layout: init.mp4, <msn>.<ext>, <msn>.<part>.<ext>.
type RelativeURLs struct{ Ext string }

func (u RelativeURLs) Init() string              { return "init.mp4" }
func (u RelativeURLs) Segment(msn uint64) string { return fmt.Sprintf("%d.%s", msn, u.Ext) }
func (u RelativeURLs) Part(msn uint64, i int) string {
	return fmt.Sprintf("%d.%d.%s", msn, i, u.Ext)
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 5, 64) }

// PrefixURLs names media relative to the playlist, under a prefix ("360p30/").
type PrefixURLs struct{ Prefix, Ext string }

func (u PrefixURLs) Init() string { return u.Prefix + "init.mp4" }
func (u PrefixURLs) Segment(msn uint64) string {
	return u.Prefix + strconv.FormatUint(msn, 10) + "." + u.Ext
}
func (u PrefixURLs) Part(msn uint64, i int) string {
	return u.Prefix + strconv.FormatUint(msn, 10) + "." + strconv.Itoa(i) + "." + u.Ext
}

// SharedPlaylist is MediaPlaylist with media named relative to the playlist under prefix, the same body for
// every viewer: it is rendered once per publication (and skip) and then served from a cache. prefix must be the
// same on every call. A form (full or delta) read since the last publication is rendered at the next one before
// the waiting viewers are woken, so that they find it ready instead of queueing for its render.
func (m *Muxer) SharedPlaylist(prefix string, skip bool) []byte {
	i := 0
	if skip {
		i = 1
	}
	if c := m.shared[i].Load(); c != nil && c.version == m.version.Load() {
		if !c.read.Load() {
			c.read.Store(true)
		}
		return c.body // rendered since the last publication
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sharedPrefix = prefix
	c := m.renderShared(i)
	c.read.Store(true)
	return c.body
}

// renderShared returns SharedPlaylist's body i (0 full, 1 delta) at the current version, rendering it if it is
// not; m.mu held.
func (m *Muxer) renderShared(i int) *sharedBody {
	v := m.version.Load() // changes only under m.mu
	if c := m.shared[i].Load(); c != nil && c.version == v {
		return c
	}
	c := &sharedBody{version: v, body: m.mediaPlaylist(PrefixURLs{Prefix: m.sharedPrefix, Ext: m.f.ext()}, i == 1)}
	m.shared[i].Store(c)
	return c
}

// MediaPlaylist renders the rendition's media playlist; skip asks for a delta update (_HLS_skip=YES), honoured
// for LL-HLS only.
func (m *Muxer) MediaPlaylist(urls URLs, skip bool) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mediaPlaylist(urls, skip)
}

// mediaPlaylist renders the media playlist; m.mu held.
func (m *Muxer) mediaPlaylist(urls URLs, skip bool) []byte {
	var b strings.Builder
	target := m.targetDuration()
	ll := m.cfg.LowLatency
	version := 3
	switch {
	case ll:
		version = 9
	case m.cfg.Container == ContainerFMP4:
		version = 7
	}
	b.WriteString("#EXTM3U\n")
	fmt.Fprintf(&b, "#EXT-X-VERSION:%d\n", version)
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target/time.Second)
	skipUntil := 6 * target
	if ll {
		// PART-HOLD-BACK is the spec's minimum, twice the part target (it recommends three times): hls.js starts and
		// stays that far from the live edge, and measured same-hour A/B (bench/README.md) 2x gave it ~1.45 s
		// glass-to-glass against ~1.7 s with 3x, with no stall in either (0.42 s then; 0.48 s at 30 fps since the
		// last part is made longer, see minLastPart). The IVS player does not read it.
		fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=%s,PART-HOLD-BACK=%s\n",
			secs(skipUntil), secs(2*m.partTarget))
		fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", secs(m.partTarget))
	}
	first := uint64(0)
	if len(m.segments) > 0 {
		first = m.segments[0].MSN
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	if m.cfg.Container == ContainerFMP4 {
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", urls.Init())
	}

	// the live edge, for the delta and for which segments list their parts
	var end time.Duration
	if n := len(m.segments); n > 0 {
		last := m.segments[n-1]
		end = last.StartDTS + last.Duration
		if !last.Complete {
			for _, p := range last.Parts {
				end += p.Duration
			}
		}
	}
	skipped := 0
	if ll && skip {
		for _, s := range m.segments {
			if !s.Complete || end-(s.StartDTS+s.Duration) < skipUntil {
				break
			}
			skipped++
		}
		if skipped > 0 {
			fmt.Fprintf(&b, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", skipped)
		}
	}
	var carried []string // tags of skipped segments, written before the first listed one
	for i, s := range m.segments {
		if i < skipped {
			carried = append(carried, s.Tags...)
			continue
		}
		for _, t := range carried {
			b.WriteString(t)
			b.WriteByte('\n')
		}
		carried = nil
		for _, t := range s.Tags {
			b.WriteString(t)
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Start.Format("2006-01-02T15:04:05.000Z07:00"))
		withParts := ll && (!s.Complete || end-(s.StartDTS+s.Duration) < 3*target)
		if withParts {
			for j, p := range s.Parts {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=%q", secs(p.Duration), urls.Part(s.MSN, j))
				if p.Independent {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteByte('\n')
			}
		}
		if s.Complete {
			fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", secs(s.Duration), urls.Segment(s.MSN))
		}
	}
	switch {
	case m.closed:
		b.WriteString("#EXT-X-ENDLIST\n")
	case ll:
		msn, part := m.nextMSN, 0
		if m.open != nil {
			msn, part = m.open.MSN, len(m.open.Parts)
		}
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=%q\n", urls.Part(msn, part))
		// The IVS web player does not read LL-HLS parts; it plays low latency from Twitch's prefetch segments,
		// fetched while they are being made (StreamSegment). Other players ignore the tag.
		if m.open != nil {
			fmt.Fprintf(&b, "#EXT-X-TWITCH-PREFETCH:%s\n", urls.Segment(m.open.MSN))
		}
		fmt.Fprintf(&b, "#EXT-X-TWITCH-PREFETCH:%s\n", urls.Segment(m.nextMSN))
	}
	return []byte(b.String())
}

// Rendition describes a variant of the multivariant playlist.
type Rendition struct {
	Name          string // GROUP-ID and NAME of its EXT-X-MEDIA, "720p30" (IVS names it "720p30", shown "720p")
	URL           string
	Bandwidth     int64 // peak, bits per second
	Codecs        string
	Width, Height int
	FrameRate     float64
	// AudioOnly marks the audio-only rendition: IVS offers it but does not select it (AUTOSELECT=NO,DEFAULT=NO),
	// and it has no RESOLUTION or FRAME-RATE.
	AudioOnly bool
}

// Multivariant renders a multivariant playlist of the renditions in the order given (IVS's: highest bandwidth
// first, the audio-only rendition last).
func Multivariant(rs []Rendition, independent bool) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	if independent {
		b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	}
	for _, r := range rs {
		switch {
		case r.AudioOnly: // IVS's form, a VIDEO group too: #EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="audio_only",...
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=%q,NAME=%q,AUTOSELECT=NO,DEFAULT=NO\n", r.Name, r.Name)
		case r.Name != "": // IVS's form: each variant is its own VIDEO group, which players show by NAME
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=%q,NAME=%q,AUTOSELECT=YES,DEFAULT=YES\n", r.Name, displayName(r.Name))
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=%q", r.Bandwidth, r.Codecs)
		if r.Width > 0 && r.Height > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", r.Width, r.Height)
		}
		if r.Name != "" {
			fmt.Fprintf(&b, ",VIDEO=%q", r.Name)
		}
		if r.FrameRate > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", r.FrameRate)
		}
		fmt.Fprintf(&b, "\n%s\n", r.URL)
	}
	return []byte(b.String())
}

// displayName is IVS's NAME for a rendition: the frame rate is kept only at 60 fps ("720p60", but "480p").
func displayName(group string) string {
	if i := strings.Index(group, "p"); i > 0 && group[i+1:] != "60" {
		return group[:i+1]
	}
	return group
}
