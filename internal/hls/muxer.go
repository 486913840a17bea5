// Package hls packages a live stream as HLS in memory: segments that start at the encoder's keyframes, split into
// parts of about a quarter second for Low-Latency HLS, in MPEG-TS or fragmented MP4 (H.264; HEVC in fragmented MP4
// only), with timed ID3 metadata (an ID3 PES stream in TS, emsg boxes in fMP4) and ad-break markers; it renders
// media playlists (standard HLS, or LL-HLS with blocking reload, preload hints, delta updates and program
// date-times) and multivariant playlists.
//
// It is our own code, on mediacommon's fMP4 writer and go-astits's TS muxer: gohlslib's muxer owns its URL layout
// and playlists and writes neither timed metadata nor ad markers, which IVS channels need.
//
// Video drives segmentation: a Muxer holds back one frame (its duration is the distance to the next one) and closes
// a part when it reaches the part target, and a segment at the first keyframe after the minimum segment duration.
// Audio joins the part whose time range it falls in. An audio-only rendition (Config.AudioOnly) has no keyframes of
// its own: it is cut where the rendition it follows was. Readers never block the writer: a part, once published, is
// immutable, and waiting readers are woken by closing a channel. Parts are kept outside the Go heap, in chunks of
// mapped memory given back as the window moves (store.go); a reader that may outlive the window holds the segment.
package hls

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Container formats (ivsapi.ContainerFormat).
const (
	ContainerTS   = "TS"
	ContainerFMP4 = "FRAGMENTED_MP4"
)

// VideoCodec is a video track's codec.
type VideoCodec int

// Video codecs: H.264 (the zero value), and HEVC (H.265), which only fragmented MP4 carries here.
const (
	H264 VideoCodec = iota
	H265
)

// VideoTrack is the video track of a rendition.
type VideoTrack struct {
	Kind          VideoCodec
	VPS           []byte // HEVC only
	SPS, PPS      []byte
	Codec         string // RFC 6381, "avc1.64001F", "hvc1.1.6.L93.B0"
	Width, Height int
}

// AudioTrack is the AAC track muxed with the video.
type AudioTrack struct {
	Config *mpeg4audio.AudioSpecificConfig
	Codec  string // "mp4a.40.2"
}

// Config configures a Muxer.
type Config struct {
	LowLatency bool   // LL-HLS (parts, blocking reload, preload hints, delta updates)
	Container  string // ContainerTS or ContainerFMP4
	Video      VideoTrack
	Audio      *AudioTrack // nil without audio
	// OnSegment is called (from the writer's goroutine) each time a segment completes.
	OnSegment func(*Segment)
	// Origin, when set, is a wall-clock time no later than the capture of the first frame (the moment the encoder
	// started publishing): ingest may deliver the first seconds in a burst (gortmplib reads 2 s of media to find
	// the tracks), so the first frames' arrival says little about when they were captured.
	Origin time.Time
	// Follow, when set, is the muxer whose timeline this one shares (a transcoded rendition follows the source's):
	// it starts at the first keyframe that begins one of Follow's segments (same presentation time), with
	// Follow's timeline origin and that segment's sequence number, so the renditions' segments share their
	// numbers, boundaries and date-times, and players can switch between them.
	Follow *Muxer
	// AudioOnly makes a rendition of Audio alone (Video is ignored), which follows Follow (required): it starts
	// with the first AAC frame at or after one of Follow's segment boundaries, and ends each segment at Follow's
	// next boundary (the first frame at or after it begins the next segment), so its segments have Follow's
	// numbers, start times, durations, date-times and ad markers; parts end between frames, within PartTarget.
	// Audio waits until Follow's video has passed it (its boundaries are decided there), so it may arrive before
	// Follow's video does.
	AudioOnly bool
	Now       func() time.Time
}

// Durations of the packaging.
const (
	PartTarget = 210 * time.Millisecond // EXT-X-PART-INF:PART-TARGET at least (see Muxer.partTarget)
	partCut    = 198 * time.Millisecond // a part closes once it is this long (but see cutBefore)
	// minLastPart is the least a segment's last part lasts when the segment ends where the keyframe cadence says
	// it will. hls.js (1.7.4) counts a segment as wholly buffered when the buffer reaches within 0.2 s of its end
	// (its fragment tracker's bufferPadding): a player that joined and loaded every part of a segment but the
	// last, just as the playlist showed the segment complete, never loaded that last part when it lasted 0.2 s,
	// and stalled for seconds on the hole (about one join in ten; bench/README.md, "(a, fifth)").
	minLastPart       = 205 * time.Millisecond
	minSegmentLow     = 1 * time.Second // LL-HLS: a segment closes at the first keyframe after this
	minSegmentNormal  = 2 * time.Second // standard HLS
	windowLow         = 8 * time.Second // media the playlist keeps (at least)
	windowNormal      = 12 * time.Second
	keyframeTolerance = 100 * time.Millisecond // timestamps jitter: a keyframe this close to the minimum still cuts
	retiredKept       = 3                      // segments kept fetchable after they leave the playlist
)

// Part is a partial segment: immutable once published. Data may be outside the Go heap (see store.go): a reader
// that uses it after the part has left the window holds it first (Hold).
type Part struct {
	Duration    time.Duration
	Independent bool // starts with a keyframe
	Data        []byte
	seg         *Segment
}

// Segment is a media segment; its bytes are its parts' bytes in order.
type Segment struct {
	MSN      uint64
	Start    time.Time     // wall clock of its first frame (EXT-X-PROGRAM-DATE-TIME)
	StartDTS time.Duration // on the stream's timeline
	Duration time.Duration // set when complete
	Parts    []*Part
	Complete bool
	Size     int
	Tags     []string // playlist lines written before it (EXT-X-DATERANGE, CUE-OUT/IN)
	// Bitrate of the segment's media in bits per second (complete segments).
	Bitrate int64

	st    *store // where its parts are (kept reachable while the segment is)
	off   uint64 // the store's position of its first byte
	holds holds
}

// ErrClosed is returned to waiters when the stream has ended.
var ErrClosed = errors.New("hls: stream ended")

// Muxer packages one rendition. Write* and Close are called from one goroutine (the ingest connection); every
// other method may be called from any goroutine.
type Muxer struct {
	cfg Config
	f   format

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when a part is published or the stream ends
	segments []*Segment    // the playlist's window, oldest first; the last may be open
	retired  []*Segment
	gone     []*Segment // segments no longer served whose media is not released yet (held, or behind a held one)
	st       *store
	// the latest segment boundaries decided (a keyframe's timestamps on the input timeline, and the MSN of the
	// segment it starts), for the renditions that follow this one (Config.Follow)
	boundaries [16]boundary
	closed     bool
	maxDur     time.Duration // longest complete segment seen (EXT-X-TARGETDURATION)
	// partTarget is EXT-X-PART-INF's PART-TARGET: minLastPart and a frame, rounded up to 10 ms (0.24 s at 30
	// frames a second), or PartTarget if that is more. Set from the frames before the first part is published.
	partTarget time.Duration
	target     atomic.Int64 // targetDuration(), readable without m.mu
	// decided is the decode time (input timeline, nanoseconds) of the newest video frame written: every segment
	// boundary up to it is in boundaries. Written by the writer, read by audio-only followers, without m.mu.
	decided atomic.Int64

	// Read without m.mu, so that the viewers woken together by a publication do not queue on it; written under
	// m.mu.
	version atomic.Uint64                 // publications so far: the playlist changes with each
	edge    atomic.Uint64                 // the live edge (see storeEdge)
	newest  atomic.Pointer[newestPart]    // the part published last
	shared  [2]atomic.Pointer[sharedBody] // SharedPlaylist's bodies (full, delta)

	sharedPrefix string // SharedPlaylist's prefix

	// writer state
	started   bool
	followed  bool // the timeline is Config.Follow's
	t0        time.Duration
	wall0     time.Time
	pending   *videoSample
	partVideo []*videoSample
	partStart time.Duration
	segStart  time.Duration
	lastKey   time.Duration // the newest keyframe's decode time
	keyInt    time.Duration // and its distance from the one before (0: one keyframe so far)
	audioQ    []*audioSample
	audioNext uint64
	audioSync bool
	cues      []cue
	seq       uint32
	nextMSN   uint64
	open      *Segment
	lastDur   time.Duration
	adEvents  uint32
	adPending *adBreak
	adActive  *adBreak
	// audio-only writer state (Config.AudioOnly), before the start: frames waiting for Follow to decide their
	// segment boundaries, and the last frame looked at
	pre      []preAudio
	prevPTS  time.Duration
	havePrev bool
}

type boundary struct {
	pts, dts time.Duration
	msn      uint64
}

// preAudio is an AAC frame of an audio-only rendition that has not started.
type preAudio struct {
	pts time.Duration
	au  []byte
}

type newestPart struct {
	msn  uint64
	i    int
	part *Part
}

type sharedBody struct {
	version uint64 // the playlist's version it was rendered at
	body    []byte
	read    atomic.Bool // returned by SharedPlaylist
}

// New returns a Muxer for one rendition.
func New(cfg Config) (*Muxer, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Muxer{cfg: cfg, changed: make(chan struct{}), st: newStore(), partTarget: PartTarget}
	m.decided.Store(math.MinInt64)
	video := &cfg.Video
	if cfg.AudioOnly {
		if cfg.Audio == nil || cfg.Follow == nil {
			return nil, errors.New("hls: an audio-only rendition needs an audio track and a rendition to follow")
		}
		video = nil
	}
	var err error
	switch cfg.Container {
	case ContainerFMP4:
		m.f, err = newFMP4(video, cfg.Audio)
	case ContainerTS, "":
		if video != nil && video.Kind != H264 {
			return nil, errors.New("hls: HEVC video is packaged in fragmented MP4 only, not in MPEG-TS")
		}
		m.cfg.Container = ContainerTS
		m.f, err = newTS(video, cfg.Audio)
	default:
		return nil, errors.New("hls: unknown container format " + cfg.Container)
	}
	if err != nil {
		return nil, err
	}
	m.target.Store(int64(m.targetDuration()))
	return m, nil
}

// Config returns the muxer's configuration.
func (m *Muxer) Config() Config { return m.cfg }

// Ext is the segment file extension ("ts" or "mp4").
func (m *Muxer) Ext() string { return m.f.ext() }

// Init is the fMP4 initialisation section (nil for TS).
func (m *Muxer) Init() []byte { return m.f.initSection() }

func (m *Muxer) minSegment() time.Duration {
	if m.cfg.LowLatency {
		return minSegmentLow
	}
	return minSegmentNormal
}

// WriteVideo adds an access unit of the track's codec (NAL units without start codes) with its timestamps (none
// for an audio-only rendition: ignored).
func (m *Muxer) WriteVideo(pts, dts time.Duration, au [][]byte) error {
	if len(au) == 0 || m.cfg.AudioOnly {
		return nil
	}
	key := isKeyframe(m.cfg.Video.Kind, au)
	if !m.started {
		if !key {
			return nil // a stream starts at a keyframe
		}
		if f := m.cfg.Follow; f != nil {
			t0, wall0, msn, ok := f.segmentAt(pts)
			if !ok {
				return nil // not (yet) a segment boundary of the followed rendition
			}
			m.started, m.followed, m.t0, m.wall0, m.nextMSN = true, true, t0, wall0, msn
			m.segStart = dts - t0 // the followed segment's start: its minimum duration counts from here
		} else {
			m.started, m.t0, m.wall0 = true, dts, m.cfg.Now()
			if !m.cfg.Origin.IsZero() && m.cfg.Origin.Before(m.wall0) {
				m.wall0 = m.cfg.Origin
			}
		}
	}
	s := &videoSample{dts: dts - m.t0, pts: pts - m.t0, key: key, au: au}
	// The wall clock of the timeline's origin: no frame arrives before it was captured, so the earliest arrival
	// minus timestamp bounds it (frames buffered by the encoder or the connection arrive late, and are ignored).
	// It is settled once the first segment is published: program date-times must stay continuous from then on,
	// or players misplace segments.
	if w := m.cfg.Now().Add(-s.dts); w.Before(m.wall0) && m.open == nil && m.nextMSN == 0 && !m.followed {
		m.wall0 = w
	}
	if s.pts < s.dts {
		s.pts = s.dts
	}
	if p := m.pending; p != nil {
		if s.dts <= p.dts { // non-increasing timestamps: keep the order, one millisecond apart
			shift := p.dts + time.Millisecond - s.dts
			s.dts, s.pts = s.dts+shift, s.pts+shift
		}
		p.dur = s.dts - p.dts
		m.lastDur = p.dur
		if err := m.addVideo(p, s); err != nil {
			return err
		}
	}
	m.pending = s
	m.decided.Store(int64(s.dts + m.t0)) // after addVideo has recorded the boundary s may start
	return nil
}

// isKeyframe tells whether an access unit starts a coded video sequence a decoder can start at: an H.264 IDR
// picture, an HEVC IRAP picture (BLA, IDR or CRA: NAL unit types 16 to 21).
func isKeyframe(kind VideoCodec, au [][]byte) bool {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if kind == H265 {
			if t := h265.NALUType((n[0] >> 1) & 0x3f); t >= h265.NALUType_BLA_W_LP && t <= h265.NALUType_CRA_NUT {
				return true
			}
		} else if h264.NALUType(n[0]&0x1f) == h264.NALUTypeIDR {
			return true
		}
	}
	return false
}

// WriteAAC adds an AAC access unit.
func (m *Muxer) WriteAAC(pts time.Duration, au []byte) {
	if m.cfg.AudioOnly {
		m.writeAudioOnly(pts, au)
		return
	}
	if !m.started || m.cfg.Audio == nil {
		return
	}
	m.queueAudio(pts, au)
}

// queueAudio puts an AAC access unit on the audio clock, for the part its time falls in.
func (m *Muxer) queueAudio(pts time.Duration, au []byte) {
	rel := pts - m.t0
	if rel < 0 {
		return
	}
	rate := int64(m.cfg.Audio.Config.SampleRate)
	t := uint64(ticks(rel, rate))
	// AAC frames are contiguous: follow the audio clock unless the timestamps say there was a gap.
	if !m.audioSync || absDiff(t, m.audioNext) > 2*mpeg4audio.SamplesPerAccessUnit {
		m.audioNext, m.audioSync = t, true
	}
	m.audioQ = append(m.audioQ, &audioSample{ticks: m.audioNext, au: au})
	m.audioNext += mpeg4audio.SamplesPerAccessUnit
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// Metadata inserts an ID3 tag at the live edge (the newest frame received) and returns where it went on the
// timeline, for MetadataAt of the renditions that follow this one.
func (m *Muxer) Metadata(tag []byte) time.Duration {
	at := time.Duration(0)
	if m.pending != nil {
		at = m.pending.dts
	}
	m.MetadataAt(at, tag)
	return at
}

// MetadataAt inserts an ID3 tag at a point of the timeline (one Metadata returned for the followed rendition); a
// point already packaged goes into the next part.
func (m *Muxer) MetadataAt(at time.Duration, tag []byte) {
	m.cues = append(m.cues, cue{at: at, tag: tag})
}

// segmentTags returns the playlist lines of segment msn (nil when it is not in the window).
func (m *Muxer) segmentTags(msn uint64) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seg := m.find(msn); seg != nil {
		return seg.Tags
	}
	return nil
}

// segmentAt returns the timeline of the segment that starts with the frame presented at pts (on the writer's
// input timeline), once the timeline is settled (a segment is complete); for Config.Follow.
func (m *Muxer) segmentAt(pts time.Duration) (t0 time.Duration, wall0 time.Time, msn uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.boundaries {
		// Boundaries are recorded from the second segment on: t0 and wall0 are final by then.
		if b.msn > 0 && b.pts == pts {
			return m.t0, m.wall0, b.msn, true
		}
	}
	return 0, time.Time{}, 0, false
}

func (m *Muxer) addVideo(v, next *videoSample) error {
	if m.seq == 0 { // no part published yet: the part target may still follow the frame rate
		if len(m.partVideo) == 0 {
			m.lastKey = v.dts // a stream starts at a keyframe
		}
		// The longest last part cutBefore makes is minLastPart and a frame (of at most 0.1 s: 10 frames a
		// second and fewer make parts too long anyway).
		const step = 10 * time.Millisecond
		pt := max(PartTarget, (minLastPart+min(v.dur, 100*time.Millisecond)+step-1)/step*step)
		m.mu.Lock()
		m.partTarget = max(m.partTarget, pt)
		m.mu.Unlock()
	}
	if next.key {
		m.keyInt, m.lastKey = next.dts-m.lastKey, next.dts
	}
	if len(m.partVideo) == 0 {
		m.partStart = v.dts
	}
	m.partVideo = append(m.partVideo, v)
	segDur := next.dts - m.segStart
	switch {
	case next.key && segDur >= m.minSegment()-keyframeTolerance:
		if err := m.flushPart(next.dts, true); err != nil {
			return err
		}
		// next starts segment nextMSN: renditions that follow this one may start there (segmentAt).
		m.mu.Lock()
		m.boundaries[m.nextMSN%uint64(len(m.boundaries))] = boundary{pts: next.pts + m.t0, dts: next.dts + m.t0, msn: m.nextMSN}
		m.mu.Unlock()
		return nil
	case m.cutBefore(next.dts, next.dts-v.dts):
		return m.flushPart(next.dts, false)
	}
	return nil
}

// cutBefore tells whether the open part ends before the frame at dts; f is the duration of the frame before it,
// taken for that frame's too. A part closes once it lasts partCut, except around the segment's end, which is
// foreseen from the keyframe interval (encoders keep it fixed, as IVS asks): the last part is made at least
// minLastPart long, by ending the one before it early, so that hls.js loads it (see minLastPart). A segment that
// ends elsewhere (the stream's first, or after a change of interval) ends as before: its last part is what is
// left.
func (m *Muxer) cutBefore(dts, f time.Duration) bool {
	step, end := m.minSegment(), m.segStart+m.minSegment()
	if m.keyInt > 0 { // the first keyframe that would end the segment, if the interval holds
		step, end = m.keyInt, m.lastKey+m.keyInt
		for end-m.segStart < m.minSegment()-keyframeTolerance {
			end += step
		}
	}
	for end-f/2 <= dts { // no keyframe where foreseen (timestamps jitter): the next one
		end += step
	}
	part := dts - m.partStart
	if left := end - dts; left >= minLastPart {
		return part >= partCut || left-f < minLastPart
	}
	// The frame at dts is in the segment's last part, if the keyframe comes where foreseen; the part closes only
	// if that frame would take it past the part target.
	return part+f > m.partTarget
}

// flushPart publishes the part ending at end; last closes its segment.
func (m *Muxer) flushPart(end time.Duration, last bool) error {
	in := &partInput{seq: m.seq, video: m.partVideo, start: m.partStart}
	m.seq++
	var rate int64 = 1
	if m.cfg.Audio != nil {
		rate = int64(m.cfg.Audio.Config.SampleRate)
	}
	endTicks := uint64(ticks(end, rate))
	n := 0
	for n < len(m.audioQ) && m.audioQ[n].ticks < endTicks {
		n++
	}
	in.audio = m.audioQ[:n:n]
	m.audioQ = m.audioQ[n:]
	c := 0
	for c < len(m.cues) && m.cues[c].at < end {
		c++
	}
	in.cues = m.cues[:c:c]
	m.cues = m.cues[c:]

	newSeg := m.open == nil
	in.first = newSeg
	data, err := m.f.encode(in)
	if err != nil {
		return err
	}
	independent := m.cfg.AudioOnly || m.partVideo[0].key
	m.partVideo = nil
	off := m.st.head // the writer's alone: no lock
	buf := m.st.alloc(len(data))
	copy(buf, data)

	var tags []string
	start := m.wall0.Add(m.partStart).UTC()
	if newSeg {
		if m.followed {
			tags = m.cfg.Follow.segmentTags(m.nextMSN) // the same ad markers on the same segments
		} else {
			tags = m.adTags(m.partStart, start)
		}
	}
	m.mu.Lock()
	if newSeg {
		m.open = &Segment{MSN: m.nextMSN, StartDTS: m.partStart, Start: start, Tags: tags, st: m.st, off: off}
		m.nextMSN++
		m.segments = append(m.segments, m.open)
	}
	seg := m.open
	p := &Part{Duration: end - m.partStart, Independent: independent, Data: buf, seg: seg}
	seg.Parts = append(seg.Parts, p)
	m.newest.Store(&newestPart{msn: seg.MSN, i: len(seg.Parts) - 1, part: p})
	seg.Size += len(data)
	if last {
		seg.Duration = end - seg.StartDTS
		seg.Complete = true
		if seg.Duration > 0 {
			seg.Bitrate = int64(seg.Size) * 8 * int64(time.Second) / int64(seg.Duration)
		}
		m.maxDur = max(m.maxDur, seg.Duration)
		m.target.Store(int64(m.targetDuration()))
		m.open = nil
		m.segStart = end
		m.trim()
	}
	m.broadcast()
	m.mu.Unlock()
	if last && m.cfg.OnSegment != nil {
		m.cfg.OnSegment(seg)
	}
	return nil
}

// trim moves segments that left the window to the retired list; m.mu held.
func (m *Muxer) trim() {
	window := windowNormal
	if m.cfg.LowLatency {
		window = max(windowLow, 8*m.targetDuration())
	}
	var total time.Duration
	keep := 0
	for i := len(m.segments) - 1; i >= 0; i-- {
		if !m.segments[i].Complete {
			keep++
			continue
		}
		if total >= window && keep >= 3 {
			break
		}
		total += m.segments[i].Duration
		keep++
	}
	drop := len(m.segments) - keep
	if drop <= 0 {
		return
	}
	m.retired = append(m.retired, m.segments[:drop]...)
	m.segments = append([]*Segment(nil), m.segments[drop:]...)
	if n := len(m.retired) - retiredKept; n > 0 {
		m.gone = append(m.gone, m.retired[:n]...)
		m.retired = append([]*Segment(nil), m.retired[n:]...)
	}
	m.release()
}

// release gives back the media of the segments no longer served, oldest first, up to the first one a reader
// holds; m.mu held, from the writer's goroutine.
func (m *Muxer) release() {
	n := 0
	for n < len(m.gone) && m.gone[n].free() {
		n++
	}
	m.gone = append(m.gone[:0:0], m.gone[n:]...)
	var to uint64
	switch {
	case len(m.gone) > 0:
		to = m.gone[0].off
	case len(m.retired) > 0:
		to = m.retired[0].off
	case len(m.segments) > 0:
		to = m.segments[0].off
	default:
		return
	}
	m.st.release(to)
}

// broadcast publishes a change of the playlist to readers and wakes the waiters; m.mu held.
func (m *Muxer) broadcast() {
	m.version.Add(1)
	m.storeEdge()
	for i := range m.shared {
		if c := m.shared[i].Load(); c != nil && c.read.Load() { // viewers read this form: have it ready when they wake
			m.renderShared(i)
		}
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// The live edge, packed for one atomic load: the ended bit, the segment being made (or the next one, when none
// is open) and how many of its parts are published.
const (
	edgeEnded = 1 << 63
	edgeParts = 1<<16 - 1
)

// storeEdge records the live edge; m.mu held.
func (m *Muxer) storeEdge() {
	e := m.nextMSN << 16
	if m.open != nil {
		e = m.open.MSN<<16 | uint64(min(len(m.open.Parts), edgeParts))
	}
	if m.closed {
		e |= edgeEnded
	}
	m.edge.Store(e)
}

// published tells, without m.mu, whether (msn, part) is published (part < 0: segment msn complete) or the stream
// has ended: when it is true, so is m.closed || m.has(msn, part).
func (m *Muxer) published(msn uint64, part int) bool {
	e := m.edge.Load()
	if e&edgeEnded != 0 {
		return true
	}
	edgeMSN, parts := e&^edgeEnded>>16, int(e&edgeParts)
	return msn < edgeMSN || msn == edgeMSN && part >= 0 && part < parts
}

// Close ends the stream: the held-back frame (an audio-only rendition: the audio queued) is published, the playlist
// gets EXT-X-ENDLIST, and waiters wake.
func (m *Muxer) Close() {
	if m.cfg.AudioOnly && m.started {
		_ = m.cutAudio(0, true) // best effort: the stream is ending
	} else if m.pending != nil && m.started {
		p := m.pending
		p.dur = m.lastDur
		if p.dur <= 0 {
			p.dur = 33 * time.Millisecond
		}
		m.pending = nil
		if len(m.partVideo) == 0 {
			m.partStart = p.dts
		}
		m.partVideo = append(m.partVideo, p)
		_ = m.flushPart(p.dts+p.dur, true) // best effort: the stream is ending
	}
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		m.broadcast()
	}
	m.mu.Unlock()
}

// Closed tells whether the stream has ended.
func (m *Muxer) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// targetDuration is EXT-X-TARGETDURATION in seconds; m.mu held.
func (m *Muxer) targetDuration() time.Duration {
	d := max(m.maxDur, m.minSegment())
	return time.Duration((d + time.Second/2) / time.Second * time.Second)
}

// Segment returns the complete segment msn while it is in the window or recently retired.
func (m *Muxer) Segment(msn uint64) (*Segment, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.find(msn)
	if s == nil || !s.Complete {
		return nil, false
	}
	return s, true
}

func (m *Muxer) find(msn uint64) *Segment {
	for _, list := range [][]*Segment{m.segments, m.retired} {
		for _, s := range list {
			if s.MSN == msn {
				return s
			}
		}
	}
	return nil
}

// ErrTooFar answers a request for a part or segment the server cannot produce soon (HLS: 400).
var ErrTooFar = errors.New("hls: requested media is too far in the future")

// ErrGone answers a request for media that has left the window (404).
var ErrGone = errors.New("hls: no such segment or part")

// WaitPart returns part i of segment msn, waiting for it while it is the next part or close to it (a preload
// hint, a blocking playlist request). It gives up when ctx ends, or after timeout (when > 0;
// context.DeadlineExceeded). A part already published is returned without starting a timer.
func (m *Muxer) WaitPart(ctx context.Context, msn uint64, i int, timeout time.Duration) (*Part, error) {
	if n := m.newest.Load(); n != nil && n.msn == msn && n.i == i { // the common request: the newest part
		return n.part, nil
	}
	var t *time.Timer
	defer func() { putTimer(t) }()
	for {
		m.mu.Lock()
		if s := m.find(msn); s != nil && i < len(s.Parts) {
			p := s.Parts[i]
			m.mu.Unlock()
			return p, nil
		} else if s != nil && s.Complete {
			m.mu.Unlock()
			return nil, ErrGone
		}
		if err := m.tooFar(msn, i); err != nil {
			m.mu.Unlock()
			return nil, err
		}
		ch, closed := m.changed, m.closed
		m.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if t == nil && timeout > 0 {
			t = getTimer(timeout)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timerC(t):
			return nil, context.DeadlineExceeded
		}
	}
}

// tooFar tells whether (msn, part) is beyond what a blocking request may wait for; m.mu held. part < 0 stands for
// the whole segment.
func (m *Muxer) tooFar(msn uint64, part int) error {
	next := m.nextMSN // the segment after the newest
	if msn > next+1 {
		return ErrTooFar
	}
	if msn < next && m.find(msn) == nil {
		return ErrGone
	}
	if part >= 0 {
		have := 0
		if m.open != nil && m.open.MSN == msn {
			have = len(m.open.Parts)
		}
		if msn >= next && part > 3 || part > have+3 {
			return ErrTooFar
		}
	}
	return nil
}

// has tells whether (msn, part) is published; part < 0: the segment complete. m.mu held.
func (m *Muxer) has(msn uint64, part int) bool {
	s := m.find(msn)
	if s == nil {
		return msn < m.nextMSN && len(m.segments) > 0 && msn < m.segments[0].MSN
	}
	if part < 0 {
		return s.Complete
	}
	return s.Complete || part < len(s.Parts)
}

// Wait blocks until the playlist holds (msn, part) (part < 0: segment msn complete), the stream ends, ctx ends, or
// timeout passes (when > 0); in the last two cases it returns nil: the caller serves the playlist as it is.
// ErrTooFar when the request is beyond the server's reach.
func (m *Muxer) Wait(ctx context.Context, msn uint64, part int, timeout time.Duration) error {
	var t *time.Timer
	defer func() { putTimer(t) }()
	for {
		if m.published(msn, part) {
			return nil
		}
		m.mu.Lock()
		if m.closed || m.has(msn, part) {
			m.mu.Unlock()
			return nil
		}
		if msn > m.nextMSN+1 || (part > 3 && msn >= m.nextMSN) {
			m.mu.Unlock()
			return ErrTooFar
		}
		ch := m.changed
		m.mu.Unlock()
		if t == nil && timeout > 0 {
			t = getTimer(timeout)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		case <-timerC(t):
			return nil
		}
	}
}

// WaitNextPart blocks until the next part is published, the stream ends (or has ended), ctx ends, or timeout
// passes. A player tuning in starts PART-HOLD-BACK behind the end of the first playlist it gets and keeps that
// distance; a playlist rendered after WaitNextPart ends at the live edge, where one rendered before it ends up
// to a part behind it.
func (m *Muxer) WaitNextPart(ctx context.Context, timeout time.Duration) {
	m.mu.Lock()
	ch, closed := m.changed, m.closed
	m.mu.Unlock()
	if closed {
		return
	}
	t := getTimer(timeout)
	defer putTimer(t)
	select {
	case <-ch:
	case <-ctx.Done():
	case <-timerC(t):
	}
}

// PartTarget is the playlist's PART-TARGET (a low-latency rendition's).
func (m *Muxer) PartTarget() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.partTarget
}

// Ready tells whether a segment is complete (the stream is playable).
func (m *Muxer) Ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.retired) > 0 {
		return true
	}
	for _, seg := range m.segments { // a following muxer's numbers do not start at 0
		if seg.Complete {
			return true
		}
	}
	return false
}

// Changed returns a channel closed at the next publication.
func (m *Muxer) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// TargetDuration is the playlist's EXT-X-TARGETDURATION.
func (m *Muxer) TargetDuration() time.Duration {
	return time.Duration(m.target.Load())
}

// PeakBitrate is the highest bitrate of the segments in the window (bits per second), 0 before the first.
func (m *Muxer) PeakBitrate() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var peak int64
	for _, s := range m.segments {
		peak = max(peak, s.Bitrate)
	}
	return peak
}

// StreamSegment writes segment msn to write part by part as the parts are published, until the segment is
// complete: the low-latency delivery of a segment listed by EXT-X-TWITCH-PREFETCH (the IVS player's low-latency
// HLS, from Twitch), sent with chunked transfer while it is being made. ErrGone when there is no such segment.
func (m *Muxer) StreamSegment(ctx context.Context, msn uint64, write func([]byte) error) error {
	for i := 0; ; i++ {
		p, err := m.WaitPart(ctx, msn, i, 0)
		switch {
		case err == nil:
		case i > 0 && (errors.Is(err, ErrGone) || errors.Is(err, ErrClosed)):
			return nil // complete
		default:
			return err
		}
		if !p.Hold() {
			return ErrGone
		}
		err = write(p.Data)
		p.Release()
		if err != nil {
			return err
		}
	}
}

// timers are the blocking requests' timeouts, reused: thousands of viewers each wait once or twice a part, and a
// timer is two allocations. Since Go 1.23 a stopped timer's channel delivers nothing stale, so a timer is safely
// Reset for its next user.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// getTimer returns a timer that fires after d; give it back with putTimer.
func getTimer(d time.Duration) *time.Timer {
	t := timers.Get().(*time.Timer)
	t.Reset(d)
	return t
}

// putTimer stops t and keeps it for reuse (nil: nothing).
func putTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
		timers.Put(t)
	}
}

// timerC is t's channel; nil (which blocks for ever in a select) for no timer.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}
