// Package playback is the playback front: it packages each live stream with the HLS packager (it implements
// ingest.Packager) and serves the channel's playbackUrl and everything it leads to, from memory:
//
//	/api/video/v1/<region>.<account>.channel.<id>.m3u8[?token=<JWT>]   multivariant playlist (the playbackUrl)
//	/v1/playlist/<session URL token>/<rendition>.m3u8                  media playlist (blocking reload, delta updates)
//	/v1/playlist/<session URL token>/<rendition>/<name>                init.mp4, <msn>.<ext>, <msn>.<part>.<ext>
//	/v1/segment/<session URL token>/<rendition>/<name>                 the same (absolute form)
//
// Each multivariant request that passes the channel's checks (private channel token, playback restriction
// policy) opens a viewer session; the variant and media URLs carry a signed, expiring reference to it, so players
// need nothing special. Sessions are what viewerCount counts, what revocation cuts, and what strict origin
// enforcement checks on every request.
package playback

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/httpfront"
	"github.com/openivs/openivs/internal/ingest"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/playback/auth"
	"github.com/openivs/openivs/internal/playback/geo"
	"github.com/openivs/openivs/internal/transcode"
)

// Channel is what playback needs from the control plane about a channel, read at each playbackUrl request.
type Channel struct {
	ARN        string
	Authorized bool
	Policy     *auth.Policy // the playback restriction policy; nil without one
}

// Key is a playback key pair's public key, as stored (PEM).
type Key struct{ ARN, PEM string }

// ErrNoChannel is returned by Authority.PlaybackChannel for an unknown channel.
var ErrNoChannel = errors.New("playback: no such channel")

// Authority is the control plane (the ivs provider).
type Authority interface {
	// PlaybackChannel returns the channel region/account/id names; ErrNoChannel when there is none.
	PlaybackChannel(ctx context.Context, region, account, id string) (Channel, error)
	// PlaybackKeys returns the account's playback key pairs in region.
	PlaybackKeys(ctx context.Context, region, account string) ([]Key, error)
	// KeyExists tells whether a playback key pair still exists (deleting one invalidates its tokens).
	KeyExists(ctx context.Context, keyARN string) bool
	// RevokedThrough returns the highest revoked viewer-session version of a viewer on a channel.
	RevokedThrough(ctx context.Context, channelARN, viewerID string) (version int64, ok bool)
}

// Config configures the playback front.
type Config struct {
	// Secret signs the URLs handed to players; a random one when empty (URLs then die with the process, as its
	// streams do).
	Secret  []byte
	Country geo.Resolver // nil: countries unknown
	Log     *slog.Logger
	Now     func() time.Time
	// Recorder, when set, records streams from the segments packaged here (internal/record).
	Recorder Recorder
	// Transcode, when set, makes the rendition ladders of STANDARD and ADVANCED channels (internal/transcode);
	// without it (or without ffmpeg) every channel plays its source.
	Transcode *transcode.Config
}

// Recorder records live streams from the segments playback packages (internal/record implements it).
type Recorder interface {
	// Record is called when a stream's packaging starts, before any media, with the renditions it may record
	// (Bandwidth is not known yet). It returns nil when the stream is not recorded.
	Record(ls *live.Stream, renditions []RecordRendition) Recording
}

// RecordRendition is a rendition offered to a Recorder: the source renditions first (the source's is always
// first), then, on a transcoded channel, the ladder's transcoded video renditions (not the audio-only one).
type RecordRendition struct {
	hls.Rendition
	// Muxer packages the rendition; nil for a transcoded rendition until Recording.Track gives it.
	Muxer *hls.Muxer
	// Transcoded: made by the transcoder, so its segments may pause (while ffmpeg is down) and its muxer may be
	// replaced (Recording.Track).
	Transcoded bool
	// NotRecorded: a source rendition that is not one of the channel's recordable renditions (on a transcoded
	// channel whose ladder does not include the source). Its segments still come: they time the recording
	// (duration_ms) and give its thumbnails.
	NotRecorded bool
}

// Recording receives a recorded stream's segments.
type Recording interface {
	// Segment is called with each complete segment of rendition i (complete segments are immutable): from the
	// ingest goroutine for source renditions, from the transcoder's for transcoded ones.
	Segment(i int, seg *hls.Segment)
	// Track is called when transcoded rendition i gets a muxer: when the transcoder first sends it, and again with
	// a new muxer after the transcoder restarted. codecs is its CODECS attribute. It may be called more than once
	// with the same muxer.
	Track(i int, m *hls.Muxer, codecs string)
	// End is called once, after the last segment of every rendition.
	End()
}

// Durations of playback sessions.
const (
	viewerActive    = 30 * time.Second // a session that made a request this recently is a viewer
	sessionIdle     = 10 * time.Minute // a session idle this long is forgotten (its URLs stop working)
	variantURLLife  = 48 * time.Hour   // session URLs live as long as their session is used, at most a stream's life
	sweepEvery      = 5 * time.Second
	endedKept       = 30 * time.Second // an ended stream keeps answering (EXT-X-ENDLIST) this long
	blockingTimeout = 3                // blocking playlist requests wait up to this many target durations
	tuneInWait      = 3                // a LOW playlist request without directives waits up to this many half part targets
)

// Server is the playback front. Create it with New, and Close it.
type Server struct {
	cfg    Config
	auth   Authority
	sealer *auth.Sealer
	single auth.SingleUse
	log    *slog.Logger

	mu       sync.RWMutex
	channels map[string]*stream  // live (and recently ended) streams by playback name "<region>.<account>.channel.<id>"
	sessions map[string]*session // by URL token
	lengths  lengthCache

	keyCache sync.Map // PEM → *ecdsa.PublicKey

	stop chan struct{}
	done chan struct{}
}

type sessionID [12]byte

// stream is a live stream being packaged: one muxer per rendition.
type stream struct {
	name       string
	live       *live.Stream
	renditions []*rendition
	ended      atomic.Int64 // unix nanoseconds when packaging ended; 0 while live
	playable   atomic.Bool
	// recording is nil when the stream is not recorded; set once, after the transcoder started (whose renditions
	// report to it from its goroutine). recMu orders giving it the transcoded renditions' muxers.
	recording atomic.Pointer[recordingRef]
	recMu     sync.Mutex

	// Transcoded renditions (nil when the channel plays its source only): fixed when packaging starts, each
	// ready once the transcoder has sent its first frame.
	rungs        []*rung
	sourceListed bool        // the source is a rendition of the channel's ladder (else only while the transcoder is down)
	transcoding  atomic.Bool // the transcoder is up
	tc           *transcode.Session
}

type recordingRef struct{ Recording }

// rung is a transcoded rendition.
type rung struct {
	plan  transcode.Rung
	ready atomic.Pointer[rendition] // nil until the transcoder's first frame of it
	// metadata for the rung's muxer, which only the rung's goroutine writes (the ingest goroutine queues it)
	mu   sync.Mutex
	cues []rungCue
}

type rungCue struct {
	at  time.Duration
	tag []byte
}

// listed is what the multivariant playlist offers: the ladder while the transcoder is up (the renditions that have
// a segment, and the source when it is one of the ladder's; the audio-only rendition, last, only with a video
// rendition), the source otherwise.
func (st *stream) listed() []*rendition {
	if st.rungs == nil || !st.transcoding.Load() {
		return st.renditions
	}
	var rs []*rendition
	if st.sourceListed {
		rs = append(rs, st.renditions...)
	}
	video := len(rs)
	for _, g := range st.rungs {
		if r := g.ready.Load(); r != nil && r.m.Ready() { // offered once it has a segment
			rs = append(rs, r)
			if !r.audioOnly {
				video++
			}
		}
	}
	if video == 0 {
		return st.renditions // no video rung has started yet
	}
	return rs
}

type rendition struct {
	name   string // "720p30"
	prefix string // its media's URLs, relative to its playlist: "720p30/"
	m      *hls.Muxer
	video  hls.VideoTrack
	codec  string // CODECS attribute
	fps    float64
	// nominal is the bitrate announced until one is measured (transcoded rungs: the ladder's)
	nominal int64
	// audioOnly: the ladder's audio-only rendition (no video; video is the zero VideoTrack)
	audioOnly bool
}

// session is one viewer's playback.
type session struct {
	id       sessionID
	tok      string // the URL token that names it, sealed once
	expires  int64  // the token's expiry, Unix seconds
	st       *stream
	channel  string // channel ARN
	lastSeen atomic.Int64
	gone     atomic.Bool // forgotten: no longer in Server.sessions

	viewerID string
	version  int64
	keyARN   string
	claims   *auth.Claims // nil on public channels
	policy   *auth.Policy
	maxRes   string
}

// New returns a playback front that reads channels, keys and revocations from a.
func New(a Authority, cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	s := &Server{cfg: cfg, auth: a, sealer: auth.NewSealer(secret), log: cfg.Log,
		channels: map[string]*stream{}, sessions: map[string]*session{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweep()
	return s
}

// Close stops the session sweeper.
func (s *Server) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// playbackName is the channel's name in its playbackUrl: "<region>.<account>.channel.<id>".
func playbackName(ch live.Channel) string {
	return ch.Region + "." + ch.Account + ".channel." + ch.ID
}

// renditionName is IVS's rendition naming: "<height>p<fps>".
func renditionName(v hls.VideoTrack, fps float64) string {
	h := min(v.Width, v.Height)
	if fps <= 0 {
		fps = 30
	}
	return fmt.Sprintf("%dp%d", h, int(fps+0.5))
}

// Package implements ingest.Packager: one muxer per video track, the audio muxed into each (the IVS player does
// not play fMP4 with audio in a separate rendition).
func (s *Server) Package(ls *live.Stream, video []hls.VideoTrack, audio *hls.AudioTrack) (ingest.Sink, error) {
	snap := ls.Snapshot()
	st := &stream{name: playbackName(snap.Channel), live: ls}
	used := map[string]bool{}
	for i, v := range video {
		fps := 0.0
		if i < len(snap.Video) {
			fps = snap.Video[i].Framerate
		}
		r := &rendition{name: renditionName(v, fps), video: v, codec: v.Codec, fps: fps}
		for used[r.name] {
			r.name += "b"
		}
		used[r.name] = true
		if audio != nil {
			r.codec += "," + audio.Codec
		}
		m, err := hls.New(hls.Config{LowLatency: snap.Channel.LatencyMode != "NORMAL", Container: containerOf(snap.Channel.ContainerFormat),
			Video: v, Audio: audio, Origin: snap.StartTime, OnSegment: func(seg *hls.Segment) {
				if i == 0 && !st.playable.Swap(true) {
					ls.Playable()
				}
				if rec := st.recording.Load(); rec != nil {
					rec.Segment(i, seg)
				}
			}})
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", r.name, err)
		}
		r.m, r.prefix = m, r.name+"/"
		st.renditions = append(st.renditions, r)
	}
	s.transcode(st, snap, video, audio)
	if s.cfg.Recorder != nil {
		s.record(st)
	}
	s.mu.Lock()
	s.channels[st.name] = st
	s.mu.Unlock()
	return &sink{s: s, st: st}, nil
}

// transcode starts the channel's transcoder when its type has a ladder (STANDARD, ADVANCED_*) and the source is
// one H.264 track (multitrack input is the broadcaster's own ladder, passed through as IVS does).
func (s *Server) transcode(st *stream, snap live.Snapshot, video []hls.VideoTrack, audio *hls.AudioTrack) {
	ch := snap.Channel
	if s.cfg.Transcode == nil || len(video) != 1 || video[0].Kind != hls.H264 || ch.Type == "" || ch.Type == transcode.TypeBasic {
		return
	}
	fps := 30.0
	if len(snap.Video) > 0 && snap.Video[0].Framerate > 0 {
		fps = snap.Video[0].Framerate
	}
	plan := transcode.Ladder(ch.Type, ch.Preset, video[0].Width, video[0].Height, fps, audio != nil)
	if len(plan.Rungs) == 0 {
		return
	}
	rungs := make([]*rung, len(plan.Rungs))
	for i, r := range plan.Rungs {
		rungs[i] = &rung{plan: r}
	}
	cfg := *s.cfg.Transcode
	cfg.LowLatency = ch.LatencyMode != "NORMAL"
	cfg.Log = s.log.With("channel", ch.ARN, "stream_id", snap.StreamID)
	st.rungs, st.sourceListed = rungs, plan.Source
	st.transcoding.Store(true)
	tc, err := transcode.Start(cfg, transcode.Source{Video: video[0], Audio: audio}, plan.Rungs, &rungOutput{s: s, st: st, audio: audio})
	if err != nil {
		st.rungs = nil
		s.log.Warn("transcoding is not available: the channel plays its source rendition only", "channel", ch.ARN,
			"type", ch.Type, "err", err)
		return
	}
	st.tc = tc
	for _, g := range rungs {
		if src := st.renditions[0]; src.name == g.plan.Name { // a 720p source and its re-encoded 720p rung
			src.name += "-source"
			src.prefix = src.name + "/"
		}
	}
}

// record offers the stream to the recorder: the source renditions, and on a transcoded channel the ladder's
// renditions (the source is then recorded only when it is one of them, as it is offered to players only then).
// The audio-only rendition is not offered: IVS's recording renditions are video classes (renditionConfiguration:
// SD, HD, FULL_HD, LOWEST_RESOLUTION). It is the ladder's last, so the others keep their indexes.
func (s *Server) record(st *stream) {
	rs := make([]RecordRendition, 0, len(st.renditions)+len(st.rungs))
	for _, r := range st.renditions {
		rs = append(rs, RecordRendition{Rendition: hls.Rendition{Name: r.name, Codecs: r.codec, Width: r.video.Width,
			Height: r.video.Height, FrameRate: r.fps}, Muxer: r.m, NotRecorded: st.rungs != nil && !st.sourceListed})
	}
	for _, g := range st.rungs {
		if g.plan.AudioOnly() {
			continue
		}
		rs = append(rs, RecordRendition{Rendition: hls.Rendition{Name: g.plan.Name, Width: g.plan.Width,
			Height: g.plan.Height, FrameRate: float64(g.plan.FPS)}, Transcoded: true})
	}
	rec := s.cfg.Recorder.Record(st.live, rs)
	if rec == nil {
		return
	}
	st.recMu.Lock()
	defer st.recMu.Unlock()
	st.recording.Store(&recordingRef{rec})
	for i, g := range st.rungs { // renditions the transcoder sent before the recording existed
		if r := g.ready.Load(); r != nil && !r.audioOnly {
			rec.Track(len(st.renditions)+i, r.m, r.codec)
		}
	}
}

// rungOutput packages the transcoder's renditions: a muxer per rung, following the source's timeline.
type rungOutput struct {
	s     *Server
	st    *stream
	audio *hls.AudioTrack
}

func (o *rungOutput) Track(i int, v hls.VideoTrack, a *hls.AudioTrack) {
	g := o.st.rungs[i]
	src := o.st.renditions[0]
	snap := o.st.live.Snapshot()
	audioOnly := g.plan.AudioOnly()
	index := len(o.st.renditions) + i // the rendition's index for the recorder (which does not get the audio-only one)
	cfg := hls.Config{LowLatency: snap.Channel.LatencyMode != "NORMAL", Container: src.m.Config().Container,
		Video: v, Audio: a, Follow: src.m, AudioOnly: audioOnly}
	if !audioOnly {
		cfg.OnSegment = func(seg *hls.Segment) {
			if rec := o.st.recording.Load(); rec != nil {
				rec.Segment(index, seg)
			}
		}
	}
	m, err := hls.New(cfg)
	if err != nil {
		o.s.log.Error("transcoding: a rendition cannot be packaged", "rendition", g.plan.Name, "err", err)
		return
	}
	r := &rendition{name: g.plan.Name, prefix: g.plan.Name + "/", m: m, video: v, codec: v.Codec, fps: float64(g.plan.FPS),
		nominal: g.plan.VideoBitrate + g.plan.AudioBitrate, audioOnly: audioOnly}
	switch {
	case audioOnly:
		r.codec = a.Codec
	case a != nil:
		r.codec += "," + a.Codec
		if g.plan.AudioBitrate == 0 && o.audio != nil {
			r.nominal += 128_000
		}
	}
	if old := g.ready.Swap(r); old != nil {
		old.m.Close() // new parameters after a restart: a new rendition under the same name
	}
	if audioOnly {
		return
	}
	o.st.recMu.Lock()
	if rec := o.st.recording.Load(); rec != nil {
		rec.Track(index, m, r.codec)
	}
	o.st.recMu.Unlock()
}

// takeCues gives the rung's muxer the timed metadata queued for it (by the ingest goroutine).
func (g *rung) takeCues(m *hls.Muxer) {
	g.mu.Lock()
	cues := g.cues
	g.cues = nil
	g.mu.Unlock()
	for _, c := range cues {
		m.MetadataAt(c.at, c.tag)
	}
}

func (o *rungOutput) Video(i int, pts, dts time.Duration, au [][]byte) {
	g := o.st.rungs[i]
	r := g.ready.Load()
	if r == nil {
		return
	}
	g.takeCues(r.m)
	if err := r.m.WriteVideo(pts, dts, au); err != nil {
		o.s.log.Error("transcoding: packaging a rendition failed", "rendition", r.name, "err", err)
	}
}

func (o *rungOutput) Audio(i int, pts time.Duration, au []byte) {
	g := o.st.rungs[i]
	r := g.ready.Load()
	if r == nil {
		return
	}
	if r.audioOnly { // the video rungs take theirs with their video
		g.takeCues(r.m)
	}
	r.m.WriteAAC(pts, au)
}

func (o *rungOutput) State(running bool, err error) {
	o.st.transcoding.Store(running)
	if running {
		o.s.log.Info("transcoding is back: the channel's renditions are offered again", "stream", o.st.name)
		o.st.live.Event(EventTranscodeRecovered, "")
		return
	}
	o.s.log.Warn("transcoding failed: the channel falls back to its source rendition until ffmpeg is back", "stream", o.st.name, "err", err)
	o.st.live.Event(EventTranscodeFailed, CodeTranscoderDown)
}

// Events of a stream session (truncatedEvents) about its transcoder. IVS documents none: its transcoding does not
// fail this way; ours (ffmpeg on the same machine) can, and the session says when the ladder was missing.
const (
	EventTranscodeFailed    = "Transcode Failure"
	EventTranscodeRecovered = "Transcode Recovery"
	CodeTranscoderDown      = "TranscoderUnavailable"
)

func containerOf(f string) string {
	if f == "FRAGMENTED_MP4" {
		return hls.ContainerFMP4
	}
	return hls.ContainerTS
}

// sink feeds a stream's muxers from the ingest connection.
type sink struct {
	s      *Server
	st     *stream
	failed bool
}

func (k *sink) WriteVideo(track int, pts, dts time.Duration, au [][]byte) {
	if track == 0 {
		for _, c := range k.st.live.TakeCues() {
			switch {
			case c.AdBreak != "":
				for _, r := range k.st.renditions {
					r.m.AdBreak(c.AdBreak, c.Duration)
				}
			case c.Metadata != "":
				tag := hls.ID3([]byte(c.Metadata))
				var at time.Duration
				for i, r := range k.st.renditions {
					if i == 0 {
						at = r.m.Metadata(tag)
					} else {
						r.m.Metadata(tag)
					}
				}
				for _, g := range k.st.rungs { // at the same point of the shared timeline
					g.mu.Lock()
					g.cues = append(g.cues, rungCue{at: at, tag: tag})
					g.mu.Unlock()
				}
			}
		}
	}
	if track >= len(k.st.renditions) {
		return
	}
	if track == 0 && k.st.tc != nil {
		k.st.tc.WriteVideo(pts, dts, au)
	}
	if err := k.st.renditions[track].m.WriteVideo(pts, dts, au); err != nil && !k.failed {
		k.failed = true
		k.s.log.Error("packaging failed: the stream is ended with a Stream Failure", "stream", k.st.name, "err", err)
		k.st.live.Fail("Stream processing failed. Please try again.")
	}
}

func (k *sink) WriteAAC(pts time.Duration, au []byte) {
	for _, r := range k.st.renditions {
		r.m.WriteAAC(pts, au)
	}
	if k.st.tc != nil {
		k.st.tc.WriteAAC(pts, au)
	}
}

func (k *sink) Close() {
	if k.st.tc != nil {
		k.st.tc.Close() // the rungs get nothing after this
		for _, g := range k.st.rungs {
			if r := g.ready.Load(); r != nil {
				r.m.Close()
			}
		}
	}
	for _, r := range k.st.renditions {
		r.m.Close()
	}
	if rec := k.st.recording.Load(); rec != nil {
		rec.End()
	}
	k.st.ended.Store(k.s.cfg.Now().UnixNano())
}

// sweep counts viewers and forgets idle sessions and ended streams.
func (s *Server) sweep() {
	defer close(s.done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.sweepOnce()
	}
}

func (s *Server) sweepOnce() {
	now := s.cfg.Now()
	counts := map[*stream]int64{}
	s.mu.Lock()
	for tok, ss := range s.sessions {
		last := time.Unix(0, ss.lastSeen.Load())
		switch {
		case now.Sub(last) > sessionIdle:
			delete(s.sessions, tok)
			ss.gone.Store(true)
		case now.Sub(last) <= viewerActive && ss.st.ended.Load() == 0:
			counts[ss.st]++
		}
	}
	var live []*stream
	for name, st := range s.channels {
		if e := st.ended.Load(); e != 0 && now.Sub(time.Unix(0, e)) > endedKept {
			delete(s.channels, name)
			continue
		}
		if st.ended.Load() == 0 {
			live = append(live, st)
		}
	}
	s.mu.Unlock()
	for _, st := range live {
		st.live.SetViewers(counts[st])
	}
	s.single.Prune(now)
}

// --- HTTP

// ServeHTTP serves the playback paths (see the package doc).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "playback answers GET, HEAD and OPTIONS")
		return
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/video/v1/") && strings.HasSuffix(p, ".m3u8") {
		s.serveMultivariant(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/api/video/v1/"), ".m3u8"))
		return
	}
	x := exchange{method: r.Method, query: r.URL.RawQuery, ctx: r.Context(), w: w, r: r}
	if !s.serveMedia(&x, p) {
		writeError(w, http.StatusNotFound, "not_found", "no such playback resource")
	}
}

// ServeDirect serves the media requests (media playlists, segments and parts: what players ask for several times
// a second) through httpfront's direct path, as ServeHTTP would; it declines the others.
func (s *Server) ServeDirect(w *httpfront.Reply, r *httpfront.Request) bool {
	x := exchange{method: r.Method, query: r.RawQuery, ctx: r.Context(), dw: w, dr: r}
	return s.serveMedia(&x, r.Path)
}

// serveMedia routes the media requests: false for any other path, nothing answered.
func (s *Server) serveMedia(x *exchange, p string) bool {
	switch {
	case strings.HasPrefix(p, "/v1/playlist/") && strings.Count(p, "/") == 5:
		// /v1/playlist/<token>/<rendition>/<name>: media, named relative to the playlist
		s.serveSegment(x, strings.TrimPrefix(p, "/v1/playlist/"))
	case strings.HasPrefix(p, "/v1/playlist/"):
		s.servePlaylist(x, strings.TrimPrefix(p, "/v1/playlist/"))
	case strings.HasPrefix(p, "/v1/segment/"):
		s.serveSegment(x, strings.TrimPrefix(p, "/v1/segment/"))
	default:
		return false
	}
	return true
}

// exchange is a media request and its answer, from net/http (or httpfront's Handler: w and r) or from httpfront's
// direct path (dw and dr), where the common answers (ok) are sent without header maps and w and r are made only
// when a rarer answer needs them.
type exchange struct {
	method, query string
	ctx           context.Context
	w             http.ResponseWriter
	r             *http.Request
	dw            *httpfront.Reply
	dr            *httpfront.Request
}

// connSession is the session of the connection's previous direct request when tok names it and it is still
// known: a player's connection asks for one session's media, request after request.
func (x *exchange) connSession(tok string) *session {
	if x.dr == nil {
		return nil
	}
	if ss, _ := x.dr.ConnValue().(*session); ss != nil && ss.tok == tok && !ss.gone.Load() {
		return ss
	}
	return nil
}

// header is the request's field key.
func (x *exchange) header(key string) string {
	if x.r == nil {
		return x.dr.Header(key)
	}
	return x.r.Header.Get(key)
}

// request is the http.Request.
func (x *exchange) request() *http.Request {
	if x.r == nil {
		x.r = x.dr.HTTP()
	}
	return x.r
}

// writer is the http.ResponseWriter, with the CORS fields set.
func (x *exchange) writer() http.ResponseWriter {
	if x.w == nil {
		x.w = x.dw.Std()
		setCORS(x.w.Header())
	}
	return x.w
}

// ok answers 200 with body (body's slices, one after the other; none for HEAD), its Content-Type and
// Cache-Control, and Accept-Ranges when ranges.
func (s *Server) ok(x *exchange, ctype, cache []string, ranges bool, body ...[]byte) {
	if x.w == nil {
		w := x.dw
		w.Field("Access-Control-Allow-Origin", "*")
		w.Field("Access-Control-Expose-Headers", hvExposed[0])
		w.Field("Timing-Allow-Origin", "*")
		w.Field("Content-Type", ctype[0])
		w.Field("Cache-Control", cache[0])
		if ranges {
			w.Field("Accept-Ranges", "bytes")
		}
		w.Send(http.StatusOK, body...)
		return
	}
	n := 0
	for _, b := range body {
		n += len(b)
	}
	h := x.w.Header()
	h["Content-Type"] = ctype
	h["Cache-Control"] = cache
	if ranges {
		h["Accept-Ranges"] = hvAcceptRanges
	}
	h["Content-Length"] = s.lengths.get(n)
	x.w.WriteHeader(http.StatusOK)
	if x.method == http.MethodHead {
		return
	}
	for _, b := range body {
		if _, err := x.w.Write(b); err != nil {
			return
		}
	}
}

// setCORS sets the CORS fields of every playback answer.
func setCORS(h http.Header) {
	h["Access-Control-Allow-Origin"] = hvAny
	h["Access-Control-Expose-Headers"] = hvExposed
	h["Timing-Allow-Origin"] = hvAny
}

// Owns tells whether a request path is playback's.
func Owns(path string) bool {
	return strings.HasPrefix(path, "/api/video/v1/") || strings.HasPrefix(path, "/v1/playlist/") || strings.HasPrefix(path, "/v1/segment/")
}

// Header values of the playback responses, shared by all of them and never modified (neither net/http nor
// internal/httpfront changes a handler's header values): setting one costs no allocation, where Header.Set makes
// a slice.
var (
	hvAny          = []string{"*"}
	hvExposed      = []string{"Content-Length, Content-Type, Date"}
	hvPlaylist     = []string{"application/vnd.apple.mpegurl"}
	hvTS           = []string{"video/mp2t"}
	hvMP4          = []string{"video/mp4"}
	hvNoCache      = []string{"no-cache"}
	hvMediaCache   = []string{"max-age=3600"}
	hvAcceptRanges = []string{"bytes"}
	hvMaxAge       [61][]string // "max-age=<i>"
)

func init() {
	for i := range hvMaxAge {
		hvMaxAge[i] = []string{"max-age=" + strconv.Itoa(i)}
	}
}

// maxAge is the Cache-Control value "max-age=<sec>".
func maxAge(sec int) []string {
	if sec >= 0 && sec < len(hvMaxAge) {
		return hvMaxAge[sec]
	}
	return []string{"max-age=" + strconv.Itoa(sec)}
}

// lengthCache holds Content-Length header values by length, in a few slots: every viewer of a stream is sent the
// same playlists and parts, so the value made for the first is found by the others.
type lengthCache [64]atomic.Pointer[lengthValue]

type lengthValue struct {
	n int
	v []string
}

func (c *lengthCache) get(n int) []string {
	slot := &c[uint(n)%uint(len(c))]
	if e := slot.Load(); e != nil && e.n == n {
		return e.v
	}
	e := &lengthValue{n: n, v: []string{strconv.Itoa(n)}}
	slot.Store(e)
	return e.v
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

func refuse(w http.ResponseWriter, err error) {
	if rf, ok := auth.AsRefusal(err); ok {
		w.Header().Set("Cache-Control", "no-cache")
		rf.WriteJSON(w)
		return
	}
	writeError(w, http.StatusInternalServerError, "internal_error", "playback failed")
}

func (s *Server) key(pem string) (*ecdsa.PublicKey, error) {
	if k, ok := s.keyCache.Load(pem); ok {
		return k.(*ecdsa.PublicKey), nil
	}
	k, err := auth.ParsePublicKeyPEM(pem)
	if err != nil {
		return nil, err
	}
	s.keyCache.Store(pem, k)
	return k, nil
}

// serveMultivariant answers the playbackUrl: the channel's checks, then a new session and its multivariant.
func (s *Server) serveMultivariant(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	parts := strings.Split(name, ".")
	if len(parts) != 4 || parts[2] != "channel" {
		writeError(w, http.StatusNotFound, "not_found", "not a playback URL")
		return
	}
	ch, err := s.auth.PlaybackChannel(ctx, parts[0], parts[1], parts[3])
	if errors.Is(err, ErrNoChannel) {
		writeError(w, http.StatusNotFound, "channel_not_found", "no such channel")
		return
	} else if err != nil {
		s.log.Error("playback: channel look-up failed", "channel", name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal_error", "channel look-up failed")
		return
	}
	now := s.cfg.Now()
	origin := r.Header.Get("Origin")
	country := ""
	if s.cfg.Country != nil {
		country = s.cfg.Country.Country(r)
	}
	ss := &session{channel: ch.ARN, policy: ch.Policy}
	if ch.Policy != nil {
		if err := ch.Policy.Check(origin, country, true); err != nil {
			refuse(w, err)
			return
		}
	}
	if ch.Authorized {
		stored, err := s.auth.PlaybackKeys(ctx, parts[0], parts[1])
		if err != nil {
			s.log.Error("playback: key look-up failed", "channel", ch.ARN, "err", err)
			writeError(w, http.StatusInternalServerError, "internal_error", "key look-up failed")
			return
		}
		keys := make([]auth.Key, 0, len(stored))
		for _, k := range stored {
			pk, err := s.key(k.PEM)
			if err != nil {
				continue
			}
			keys = append(keys, auth.Key{ARN: k.ARN, PublicKey: pk})
		}
		claims, err := auth.VerifyViewerToken(r.URL.Query().Get("token"), keys, ch.ARN, now)
		if err == nil {
			err = claims.Check(origin, true)
		}
		if err == nil {
			err = claims.CheckRevoked(func(c, v string) (int64, bool) { return s.auth.RevokedThrough(ctx, c, v) })
		}
		if err == nil && claims.SingleUseUUID != "" {
			err = s.single.Use(claims.SingleUseUUID, claims.Expires, now)
		}
		if err != nil {
			s.log.Info("playback refused", "channel", ch.ARN, "err", err.Error())
			refuse(w, err)
			return
		}
		ss.claims, ss.viewerID, ss.version, ss.keyARN, ss.maxRes = claims, claims.ViewerID, claims.ViewerSessionVersion, claims.KeyARN, claims.MaxResolution
	}
	s.mu.RLock()
	st := s.channels[name]
	s.mu.RUnlock()
	if st == nil || st.ended.Load() != 0 || !st.playable.Load() {
		writeError(w, http.StatusNotFound, "channel_offline", "the channel is not broadcasting")
		return
	}
	var rs []hls.Rendition
	rand.Read(ss.id[:])
	ss.st = st
	ss.lastSeen.Store(now.UnixNano())
	exp := now.Add(variantURLLife).Truncate(time.Second) // whole seconds, as sealed: ss.expires is the token's
	tok := s.sealer.Seal(ss.id[:], exp)
	ss.tok, ss.expires = tok, exp.Unix()
	for _, rd := range st.listed() {
		if !allowedResolution(ss.maxRes, rd.video) {
			continue
		}
		rs = append(rs, hls.Rendition{Name: rd.name, URL: "/v1/playlist/" + tok + "/" + rd.name + ".m3u8",
			Bandwidth: bandwidth(rd), Codecs: rd.codec, Width: rd.video.Width, Height: rd.video.Height, FrameRate: rd.fps,
			AudioOnly: rd.audioOnly})
	}
	if len(rs) == 0 || rs[0].AudioOnly { // (the audio-only rendition comes last)
		refuse(w, auth.Refuse(auth.ReasonClaims, "no rendition of this stream is within the token's aws:maximum-resolution"))
		return
	}
	s.mu.Lock()
	s.sessions[tok] = ss
	s.mu.Unlock()
	s.ok(&exchange{method: r.Method, w: w, r: r}, hvPlaylist, hvNoCache, false, hls.Multivariant(rs, true))
}

// allowedResolution applies aws:maximum-resolution to a rendition (its shorter edge): the audio-only rendition,
// without video (0x0), is always allowed.
func allowedResolution(max string, v hls.VideoTrack) bool {
	limit := map[string]int{auth.ResolutionSD: 480, auth.ResolutionHD: 720, auth.ResolutionFullHD: 1080}[max]
	return limit == 0 || min(v.Width, v.Height) <= limit
}

// audioOnlyBandwidth is the BANDWIDTH IVS gives its audio-only rendition (observed; its AAC is 64 kbps).
const audioOnlyBandwidth = 160_000

// bandwidth is the rendition's peak segment bitrate so far, with room for the next keyframe; the audio-only
// rendition's is IVS's figure, unless measured higher.
func bandwidth(r *rendition) int64 {
	b := r.m.PeakBitrate() * 11 / 10
	switch {
	case r.audioOnly:
		return max(b, audioOnlyBandwidth)
	case b > 0:
		return b
	case r.nominal > 0:
		return r.nominal
	}
	return 3_000_000
}

// session opens a URL token and finds its live session, applying the per-request checks.
func (s *Server) session(x *exchange, tok string, playlist bool) (*session, bool) {
	now := s.cfg.Now()
	ss := x.connSession(tok)
	if ss == nil {
		s.mu.RLock()
		ss = s.sessions[tok]
		s.mu.RUnlock()
		if ss != nil && x.dr != nil {
			x.dr.SetConnValue(ss) // found without looking at the connection's next request
		}
	}
	// A token found is one this server sealed (the same string): only its expiry is left to check. Any other is
	// opened, for the reason it is refused.
	if ss == nil || now.Unix() >= ss.expires {
		raw, err := s.sealer.Open(tok, now)
		if err == nil && len(raw) != len(sessionID{}) {
			err = auth.Refuse(auth.ReasonURLSignature, "not a playback URL of this server")
		}
		if err == nil {
			err = auth.Refuse(auth.ReasonSessionExpired, "this playback session has ended: load the playbackUrl again")
		}
		refuse(x.writer(), err)
		return nil, false
	}
	origin := ""
	if ss.policy != nil || ss.claims != nil {
		origin = x.header("Origin")
	}
	if ss.policy != nil {
		country := ""
		if s.cfg.Country != nil {
			country = s.cfg.Country.Country(x.request())
		}
		if err := ss.policy.Check(origin, country, false); err != nil {
			refuse(x.writer(), err)
			return nil, false
		}
	}
	if ss.claims != nil {
		if err := ss.claims.Check(origin, false); err != nil {
			refuse(x.writer(), err)
			return nil, false
		}
		if playlist {
			// revocation and key deletion reach playing viewers at their next playlist reload
			ctx := x.ctx
			if !s.auth.KeyExists(ctx, ss.keyARN) {
				refuse(x.writer(), auth.Refuse(auth.ReasonSignature, "the playback key pair that signed this viewer's token was deleted"))
				return nil, false
			}
			if err := ss.claims.CheckRevoked(func(c, v string) (int64, bool) { return s.auth.RevokedThrough(ctx, c, v) }); err != nil {
				refuse(x.writer(), err)
				return nil, false
			}
		}
	}
	ss.lastSeen.Store(now.UnixNano())
	return ss, true
}

// queryGet is url.Values.Get of the query raw (the first value of key), without building the map.
func queryGet(raw, key string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if strings.Contains(kv, ";") {
			continue // url.ParseQuery skips it
		}
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if u, err := url.QueryUnescape(k); err != nil || u != key {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u
		}
	}
	return ""
}

func (st *stream) rendition(name string) *rendition {
	for _, r := range st.renditions {
		if r.name == name {
			return r
		}
	}
	for _, g := range st.rungs {
		if r := g.ready.Load(); r != nil && r.name == name {
			return r
		}
	}
	return nil
}

// servePlaylist answers a media playlist request, blocking while _HLS_msn/_HLS_part ask for what is not there yet
// (LOW latency without them: until the next part).
func (s *Server) servePlaylist(x *exchange, rest string) {
	tok, file, ok := strings.Cut(rest, "/")
	name, isPlaylist := strings.CutSuffix(file, ".m3u8")
	if !ok || !isPlaylist {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such playlist")
		return
	}
	ss, ok := s.session(x, tok, true)
	if !ok {
		return
	}
	rd := ss.st.rendition(name)
	if rd == nil {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such rendition")
		return
	}
	q := x.query
	cache := hvNoCache
	if msnS := queryGet(q, "_HLS_msn"); msnS != "" && rd.m.Config().LowLatency {
		msn, err := strconv.ParseUint(msnS, 10, 64)
		part := -1
		if partS := queryGet(q, "_HLS_part"); err == nil && partS != "" {
			var p uint64
			p, err = strconv.ParseUint(partS, 10, 31)
			part = int(p)
		}
		if err != nil {
			writeError(x.writer(), http.StatusBadRequest, "bad_request", "_HLS_msn and _HLS_part must be non-negative integers")
			return
		}
		target := rd.m.TargetDuration()
		err = rd.m.Wait(x.ctx, msn, part, blockingTimeout*target)
		if errors.Is(err, hls.ErrTooFar) {
			writeError(x.writer(), http.StatusBadRequest, "bad_request", "_HLS_msn/_HLS_part is too far beyond the live edge")
			return
		}
		cache = maxAge(int(target/time.Second) * 6)
	} else if rd.m.Config().LowLatency {
		// A request without delivery directives is a player tuning in (or one that polls, as the IVS player
		// does): it is answered when the next part is published, so that the playlist it gets ends at the live
		// edge. A player starts PART-HOLD-BACK behind the end of that playlist and keeps that distance, so a
		// playlist answered at once, up to a part old, would cost it that much latency for the whole session
		// (0.1 s median with hls.js; bench/README.md, "(a, sixth)"). The price is the wait: a part at most.
		rd.m.WaitNextPart(x.ctx, tuneInWait*rd.m.PartTarget()/2)
	}
	// Segment and part URLs are relative to the playlist ("<rendition>/<msn>.<part>.<ext>"), so they carry the
	// session's token from its path: a segment's URL must stay the same from one reload to the next (hls.js
	// refuses a playlist whose segment URLs changed), and every viewer gets the same body, rendered once per
	// publication (SharedPlaylist). Their authorisation is the session's, which ends when the viewer is revoked,
	// its key pair deleted, or it is idle for sessionIdle.
	skip := queryGet(q, "_HLS_skip")
	body := rd.m.SharedPlaylist(rd.prefix, skip == "YES" || skip == "v2")
	s.ok(x, hvPlaylist, cache, false, body)
}

// serveSegment answers init sections, segments and parts; a part that is the next one (a preload hint) is
// waited for.
func (s *Server) serveSegment(x *exchange, rest string) {
	tok, rest, ok := strings.Cut(rest, "/")
	rname, file, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || strings.Contains(file, "/") {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such segment")
		return
	}
	ss, ok := s.session(x, tok, false)
	if !ok {
		return
	}
	rd := ss.st.rendition(rname)
	if rd == nil {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such rendition")
		return
	}
	if file == "init.mp4" {
		init := rd.m.Init()
		if init == nil {
			writeError(x.writer(), http.StatusNotFound, "not_found", "MPEG-TS renditions have no init section")
			return
		}
		s.ok(x, hvMP4, hvMediaCache, false, init)
		return
	}
	ctype := hvTS
	if rd.m.Ext() == "mp4" {
		ctype = hvMP4
	}
	base, ok := strings.CutSuffix(file, "."+rd.m.Ext())
	msnS, partS, isPart := strings.Cut(base, ".")
	if !ok || strings.Contains(partS, ".") {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such segment")
		return
	}
	msn, err := strconv.ParseUint(msnS, 10, 64)
	if err != nil {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such segment")
		return
	}
	if !isPart {
		seg, ok := rd.m.Segment(msn)
		if !ok && rd.m.Config().LowLatency {
			s.streamSegment(x, rd, msn, ctype)
			return
		}
		if !ok || !seg.Hold() {
			writeError(x.writer(), http.StatusNotFound, "not_found", "no such segment (it may have left the live window)")
			return
		}
		defer seg.Release()
		if x.header("Range") != "" { // players resuming a download: byte ranges of the whole segment
			all := make([]byte, 0, seg.Size)
			for _, p := range seg.Parts {
				all = append(all, p.Data...)
			}
			w := x.writer()
			w.Header()["Content-Type"] = ctype
			w.Header()["Cache-Control"] = hvMediaCache
			http.ServeContent(w, x.request(), "", time.Time{}, bytes.NewReader(all))
			return
		}
		var small [8][]byte
		body := small[:0]
		for _, p := range seg.Parts {
			body = append(body, p.Data)
		}
		s.ok(x, ctype, hvMediaCache, true, body...)
		return
	}
	i, err := strconv.ParseUint(partS, 10, 16)
	if err != nil {
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such part")
		return
	}
	p, err := rd.m.WaitPart(x.ctx, msn, int(i), blockingTimeout*rd.m.TargetDuration())
	switch {
	case errors.Is(err, hls.ErrTooFar):
		writeError(x.writer(), http.StatusBadRequest, "bad_request", "the part is too far beyond the live edge")
		return
	case err != nil || !p.Hold():
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such part")
		return
	}
	defer p.Release()
	s.ok(x, ctype, hvMediaCache, false, p.Data)
}

// streamSegment sends a segment that is still being made (a prefetch segment), part by part with chunked
// transfer, until it is complete.
func (s *Server) streamSegment(x *exchange, rd *rendition, msn uint64, ctype []string) {
	ctx, cancel := context.WithTimeout(x.ctx, 4*rd.m.TargetDuration()+10*time.Second)
	defer cancel()
	w := x.writer()
	rc := http.NewResponseController(w)
	started := false
	err := rd.m.StreamSegment(ctx, msn, func(b []byte) error {
		if !started {
			started = true
			h := w.Header()
			h["Content-Type"] = ctype
			// never cached: a browser that kept a partial copy would answer later requests from it
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			if x.method == http.MethodHead {
				return errHead
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	})
	if started || errors.Is(err, errHead) {
		return // the response is under way: an error ends it short
	}
	switch {
	case errors.Is(err, hls.ErrTooFar):
		writeError(x.writer(), http.StatusBadRequest, "bad_request", "the segment is too far beyond the live edge")
	default:
		writeError(x.writer(), http.StatusNotFound, "not_found", "no such segment (it may have left the live window)")
	}
}

var errHead = errors.New("HEAD: headers only")
