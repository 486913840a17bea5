// Package live is the registry of live streams: at most one per channel, each with its stream id, start time,
// health, media description and counters. Ingest begins and ends streams and reports media; the API reads
// snapshots (it implements ivs.Live). Each stream has one monitor goroutine that owns its health: it declares
// starvation when media stops arriving, disconnects the encoder after the idle limit and at the maximum duration,
// and reports every state change to the Observer (sessions and events).
package live

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/spec/ivsapi"
)

// Limits of IVS's ingest lifecycle.
type Limits struct {
	// ConcurrentStreams is the account's quota of concurrent streams per region (IVS: 100, adjustable); 0 means
	// no limit.
	ConcurrentStreams int
	StarvationAfter   time.Duration // no media for this long: health STARVING (IVS reports it within seconds)
	IdleDisconnect    time.Duration // no media for this long: the encoder is disconnected (IVS: 30 s)
	MaxDuration       time.Duration // a stream longer than this is disconnected (IVS: 48 h)
}

// DefaultLimits are IVS's.
var DefaultLimits = Limits{ConcurrentStreams: 100, StarvationAfter: 3 * time.Second, IdleDisconnect: 30 * time.Second, MaxDuration: 48 * time.Hour}

// Channel is what a stream needs to know about its channel at go-live.
type Channel struct {
	ARN, Account, Region, ID, Name string
	Type                           string // ivsapi.ChannelType
	PlaybackURL                    string
	LatencyMode                    string // ivsapi.ChannelLatencyMode: LOW (LL-HLS) or NORMAL
	ContainerFormat                string // ivsapi.ContainerFormat: TS or FRAGMENTED_MP4
	Preset                         string // ivsapi.TranscodePreset of ADVANCED channels ("" otherwise)
	// Recording is the channel's recording configuration as it was at go-live; nil when it has none.
	Recording *Recording
}

// Recording is a channel's recording configuration (ivsapi.RecordingConfiguration), as the recorder needs it.
type Recording struct {
	ARN, Bucket         string
	State               string        // ivsapi.RecordingConfigurationState: only ACTIVE records
	Thumbnails          bool          // thumbnailConfiguration.recordingMode INTERVAL
	ThumbnailInterval   time.Duration // targetIntervalSeconds
	ThumbnailResolution string        // SD, HD, FULL_HD, LOWEST_RESOLUTION; "" for the source's
	ThumbnailSequential bool          // storage has SEQUENTIAL
	ThumbnailLatest     bool          // storage has LATEST
	ReconnectWindow     time.Duration // recordingReconnectWindowSeconds
	RenditionSelection  string        // ALL, NONE or CUSTOM
	Renditions          []string      // CUSTOM's: SD, HD, FULL_HD, LOWEST_RESOLUTION
}

// Video and Audio describe the ingested media, as read from the stream itself.
type Video struct {
	Codec, Profile, Level string // "avc1.64001F", "High", "3.1"
	Width, Height         int
	Framerate             float64 // measured
	Bitrate               int64   // measured, bits per second
	Encoder               string  // from the RTMP metadata
	Track                 string
}

// Audio describes an audio track.
type Audio struct {
	Codec      string // "mp4a.40.2"
	SampleRate int
	Channels   int
	Bitrate    int64
	Track      string
}

// Event names the Observer receives (the IVS Stream State Change / Health Change event names).
const (
	EventStreamStart     = "Stream Start"
	EventStreamEnd       = "Stream End"
	EventStarvationStart = "Starvation Start"
	EventStarvationEnd   = "Starvation End"
	EventStreamFailure   = "Stream Failure"
)

// Observer is told about streams: the ivs provider records sessions, the event bus publishes events.
type Observer interface {
	// StreamStarted is called once the stream's media is described (tracks known).
	StreamStarted(ctx context.Context, s Snapshot)
	// StreamEvent reports a state or health change.
	StreamEvent(ctx context.Context, s Snapshot, name, code string)
	// StreamUpdated reports new measurements of the media (framerate, bitrate), at most every few seconds.
	StreamUpdated(ctx context.Context, s Snapshot)
	// StreamEnded is called once, after the encoder is gone.
	StreamEnded(ctx context.Context, s Snapshot, reason string)
}

// Snapshot is a stream's state at one moment.
type Snapshot struct {
	Channel   Channel
	StreamID  string
	StartTime time.Time
	EndTime   time.Time // zero while live
	Health    string    // ivsapi.StreamHealth
	Video     []Video
	Audio     []Audio
	Bytes     int64
	Viewers   int64
	// Code is why the session was refused (IVS's Session Ended codes, e.g. "MultitrackInputNotAllowed"); "" when
	// it was not.
	Code string
}

// ErrBusy is returned by Begin when the channel already has a live stream.
var ErrBusy = errors.New("live: the channel already has a live stream")

// ErrQuota is returned by Begin when the account has as many live streams in the region as its quota allows.
var ErrQuota = errors.New("live: the account's concurrent-stream quota is reached")

// SetObserver sets the observer; call it before the first stream begins.
func (r *Registry) SetObserver(obs Observer) { r.obs = obs }

// Registry holds the live streams.
type Registry struct {
	log    *slog.Logger
	obs    Observer
	limits Limits
	now    func() time.Time

	mu      sync.RWMutex
	streams map[string]*Stream // by channel ARN
	wg      sync.WaitGroup     // monitors
	ctx     context.Context
	cancel  context.CancelFunc
}

// NewRegistry returns an empty registry; obs may be nil.
func NewRegistry(limits Limits, obs Observer, log *slog.Logger) *Registry {
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{log: log, obs: obs, limits: limits, now: time.Now, streams: map[string]*Stream{}, ctx: ctx, cancel: cancel}
}

// Stream is one live stream. Ingest owns the media side (Media, Describe, End); the monitor owns health.
type Stream struct {
	r          *Registry
	disconnect func() // closes the encoder's connection

	mu        sync.Mutex
	snap      Snapshot
	last      time.Time // when media last arrived
	cues      []Cue
	described bool      // media described: the session exists
	playable  bool      // its first segment is playable: the stream is visible as LIVE (Stream Start)
	refused   bool      // refused after its media was read: a session without a stream
	persisted time.Time // when measurements last went to the Observer
	done      chan struct{}
	once      sync.Once
	why       string
}

// Begin registers a new stream for ch; disconnect must close the encoder's connection (it may be called from any
// goroutine, more than once). ErrBusy when the channel is live already.
func (r *Registry) Begin(ch Channel, disconnect func()) (*Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return nil, errors.New("live: registry closed")
	}
	if _, busy := r.streams[ch.ARN]; busy {
		return nil, ErrBusy
	}
	if q := r.limits.ConcurrentStreams; q > 0 {
		n := 0
		for _, s := range r.streams {
			if s.snap.Channel.Account == ch.Account && s.snap.Channel.Region == ch.Region {
				n++
			}
		}
		if n >= q {
			return nil, ErrQuota
		}
	}
	now := r.now()
	s := &Stream{r: r, disconnect: disconnect, last: now, done: make(chan struct{}),
		snap: Snapshot{Channel: ch, StreamID: arn.StreamID(), StartTime: now.UTC(), Health: string(ivsapi.StreamHealthHealthy)}}
	r.streams[ch.ARN] = s
	r.wg.Add(1)
	go s.monitor()
	return s, nil
}

// Snapshot returns the stream's current state.
func (s *Stream) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// visible returns the snapshot of a stream that is playable (a stream becomes LIVE then).
func (s *Stream) visible() (Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.playable
}

// Describe sets the media description read from the stream: the stream session exists from here (Session
// Created). The stream goes live when the packager calls Playable.
func (s *Stream) Describe(video []Video, audio []Audio) {
	s.mu.Lock()
	s.snap.Video, s.snap.Audio = video, audio
	s.described = true
	snap := s.snap
	s.mu.Unlock()
	if s.r.obs != nil {
		s.r.obs.StreamStarted(s.r.ctx, snap)
	}
}

// Playable tells that the stream's first segment can be played: the stream is LIVE from here (GetStream,
// ListStreams) and Stream Start is announced, as IVS does. Calls after the first do nothing.
func (s *Stream) Playable() {
	s.mu.Lock()
	if s.playable || !s.described {
		s.mu.Unlock()
		return
	}
	s.playable = true
	snap := s.snap
	s.mu.Unlock()
	if s.r.obs != nil {
		s.r.obs.StreamEvent(s.r.ctx, snap, EventStreamStart, "")
	}
}

// Fail ends a stream that cannot be processed, as IVS's Stream Failure does ("Transcode capacity exceeded. Please
// try again."): the event carries reason, and the encoder is disconnected.
func (s *Stream) Fail(reason string) {
	if s.r.obs != nil {
		s.r.obs.StreamEvent(s.r.ctx, s.Snapshot(), EventStreamFailure, reason)
	}
	s.End("stream failure: " + reason)
}

// Event records an event of the stream that is not a change of its state (the transcoder failing and coming
// back) in its session's events; code says what happened.
func (s *Stream) Event(name, code string) {
	if s.r.obs != nil {
		s.r.obs.StreamEvent(s.r.ctx, s.Snapshot(), name, code)
	}
}

// SetViewers sets the stream's count of concurrent viewers (GetStream's viewerCount).
func (s *Stream) SetViewers(n int64) {
	s.mu.Lock()
	s.snap.Viewers = n
	s.mu.Unlock()
}

// persistEvery is how often measurements reach the Observer (the stream session).
const persistEvery = 10 * time.Second

// Refuse records a session that is refused once its media is known: the session exists (Session Created) and ends
// at once with an IVS code (Session Ended), without going live.
func (s *Stream) Refuse(video []Video, audio []Audio, code string) {
	s.mu.Lock()
	s.snap.Video, s.snap.Audio, s.snap.Code = video, audio, code
	s.refused = true
	snap := s.snap
	s.mu.Unlock()
	if s.r.obs != nil {
		s.r.obs.StreamStarted(s.r.ctx, snap)
	}
	s.End("refused: " + code)
}

// UpdateVideo replaces the measured figures of video track i (framerate, bitrate).
func (s *Stream) UpdateVideo(i int, framerate float64, bitrate int64) {
	s.mu.Lock()
	if i < len(s.snap.Video) {
		v := append([]Video(nil), s.snap.Video...)
		v[i].Framerate, v[i].Bitrate = framerate, bitrate
		s.snap.Video = v
	}
	now := s.r.now()
	persist := s.r.obs != nil && (s.persisted.IsZero() || now.Sub(s.persisted) >= persistEvery)
	if persist {
		s.persisted = now
	}
	snap := s.snap
	s.mu.Unlock()
	if persist {
		s.r.obs.StreamUpdated(s.r.ctx, snap)
	}
}

// Media records that n bytes of media arrived.
func (s *Stream) Media(n int) {
	s.mu.Lock()
	s.last = s.r.now()
	s.snap.Bytes += int64(n)
	s.mu.Unlock()
}

// Done is closed when the stream has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }

// End ends the stream (the encoder left, or it is being disconnected) with a reason for the log and events.
// It is idempotent.
func (s *Stream) End(reason string) {
	s.once.Do(func() {
		s.mu.Lock()
		s.why = reason
		s.mu.Unlock()
		close(s.done)
		s.disconnect()
	})
}

// monitor owns the stream's health and lifetime.
func (s *Stream) monitor() {
	r := s.r
	defer r.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			s.End("server shutting down")
		case <-s.done:
		case <-tick.C:
			s.checkHealth()
			continue
		}
		break
	}
	s.mu.Lock()
	s.snap.EndTime = r.now().UTC()
	snap, why, described, playable, refused := s.snap, s.why, s.described, s.playable, s.refused
	s.mu.Unlock()
	r.mu.Lock()
	if r.streams[snap.Channel.ARN] == s {
		delete(r.streams, snap.Channel.ARN)
	}
	r.mu.Unlock()
	r.log.Info("stream ended", "channel", snap.Channel.ARN, "stream_id", snap.StreamID, "reason", why,
		"duration", snap.EndTime.Sub(snap.StartTime).Round(time.Millisecond), "bytes", snap.Bytes)
	if r.obs != nil && (described || refused) { // a stream refused before its media was read has no session
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
		if playable {
			r.obs.StreamEvent(ctx, snap, EventStreamEnd, "")
		}
		r.obs.StreamEnded(ctx, snap, why)
		cancel()
	}
}

func (s *Stream) checkHealth() {
	r := s.r
	now := r.now()
	s.mu.Lock()
	idle := now.Sub(s.last)
	age := now.Sub(s.snap.StartTime)
	health := s.snap.Health
	var event string
	switch {
	case idle >= r.limits.StarvationAfter && health != string(ivsapi.StreamHealthStarving):
		s.snap.Health, event = string(ivsapi.StreamHealthStarving), EventStarvationStart
	case idle < r.limits.StarvationAfter && health == string(ivsapi.StreamHealthStarving):
		s.snap.Health, event = string(ivsapi.StreamHealthHealthy), EventStarvationEnd
	}
	snap := s.snap
	s.mu.Unlock()
	if event != "" {
		r.log.Info("stream health", "channel", snap.Channel.ARN, "stream_id", snap.StreamID, "event", event)
		if r.obs != nil {
			r.obs.StreamEvent(r.ctx, snap, event, "")
		}
	}
	switch {
	case age >= r.limits.MaxDuration:
		s.End("maximum stream duration reached")
	case idle >= r.limits.IdleDisconnect:
		s.End("no media for " + r.limits.IdleDisconnect.String())
	}
}

// Close ends every stream and waits for their monitors.
func (r *Registry) Close() {
	r.cancel()
	r.wg.Wait()
}

// --- ivs.Live

func toAPI(s Snapshot) *ivsapi.Stream {
	health := ivsapi.StreamHealth(s.Health)
	state := ivsapi.StreamStateLive
	viewers := s.Viewers
	return &ivsapi.Stream{ChannelArn: &s.Channel.ARN, StreamId: &s.StreamID, PlaybackUrl: &s.Channel.PlaybackURL,
		StartTime: awsapi.NewTime(s.StartTime), State: &state, Health: &health, ViewerCount: &viewers}
}

// Stream implements ivs.Live.
func (r *Registry) Stream(channelARN string) (*ivsapi.Stream, bool) {
	r.mu.RLock()
	s, ok := r.streams[channelARN]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	snap, ok := s.visible()
	if !ok {
		return nil, false
	}
	return toAPI(snap), true
}

// Streams implements ivs.Live.
func (r *Registry) Streams(account, region string) []*ivsapi.Stream {
	r.mu.RLock()
	var snaps []Snapshot
	for _, s := range r.streams {
		snap, ok := s.visible()
		if ok && snap.Channel.Account == account && snap.Channel.Region == region {
			snaps = append(snaps, snap)
		}
	}
	r.mu.RUnlock()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].StartTime.Before(snaps[j].StartTime) })
	out := make([]*ivsapi.Stream, len(snaps))
	for i, s := range snaps {
		out[i] = toAPI(s)
	}
	return out
}

// ErrNotLive is returned for a channel without a live stream (ivs maps it to ChannelNotBroadcasting).
var ErrNotLive error = errNotLive{}

type errNotLive struct{}

func (errNotLive) Error() string { return "live: channel is not live" }

// Stop implements ivs.Live: the encoder is disconnected at once; the stream ends when its connection is gone.
func (r *Registry) Stop(ctx context.Context, channelARN string) error {
	r.mu.RLock()
	s, ok := r.streams[channelARN]
	r.mu.RUnlock()
	if !ok {
		return ErrNotLive
	}
	s.End("StopStream")
	r.log.Info("StopStream: encoder disconnected", "channel", channelARN)
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// NotLive marks ErrNotLive for the ivs provider, which maps it to ChannelNotBroadcasting.
func (errNotLive) NotLive() bool { return true }

// Cue is timed metadata or an ad break, placed at the live edge of a stream when it was received. The HLS
// packager (playback) inserts them into the segments; until a packager consumes them they are kept, bounded.
type Cue struct {
	At       time.Time
	Metadata string        // PutMetadata payload, when not an ad break
	AdBreak  string        // ad break id, when an ad break
	Duration time.Duration // ad break duration
}

// maxPendingCues bounds the cues a stream keeps for its packager.
const maxPendingCues = 256

func (s *Stream) addCue(c Cue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cues) == maxPendingCues {
		s.cues = s.cues[1:]
	}
	s.cues = append(s.cues, c)
}

// TakeCues returns and forgets the cues received since the last call.
func (s *Stream) TakeCues() []Cue {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cues
	s.cues = nil
	return c
}

func (r *Registry) stream(channelARN string) (*Stream, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.streams[channelARN]
	return s, ok
}

// PutMetadata implements ivs.Live: the payload is placed at the stream's live edge.
func (r *Registry) PutMetadata(ctx context.Context, channelARN, metadata string) error {
	s, ok := r.stream(channelARN)
	if !ok {
		return ErrNotLive
	}
	s.addCue(Cue{At: r.now(), Metadata: metadata})
	return nil
}

// InsertAdBreak implements ivs.Live: the break starts at the stream's live edge.
func (r *Registry) InsertAdBreak(ctx context.Context, channelARN string, d time.Duration) (string, error) {
	s, ok := r.stream(channelARN)
	if !ok {
		return "", ErrNotLive
	}
	id := arn.NewID()
	s.addCue(Cue{At: r.now(), AdBreak: id, Duration: d})
	return id, nil
}
