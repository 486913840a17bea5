// Package record records live streams to S3 (any S3 API: AWS or an S3-compatible server) or to a directory per
// bucket, in IVS's recording layout: under ivs/v1/<account>/<channel id>/<y>/<m>/<d>/<h>/<mm>/<recording id>, the
// events/recording-started.json and recording-ended.json (or recording-failed.json) manifests, media/hls with
// master.m3u8 and byte-range-multivariant.m3u8, a folder per rendition with playlist.m3u8, byte-range-variant.m3u8
// and its segments, and thumbnails under media/thumbnails and media/latest_thumbnail. It announces recordings with
// IVS Recording State Change events.
//
// The recorder reuses the segments playback packages (internal/hls): a recorded segment is consecutive live
// segments written back to back (each starts at a keyframe, so every one of them is also a byte range of the
// byte-range playlists). Uploads run on one goroutine per recording, in order, retried with backoff; a recording
// whose unwritten media exceeds a bound, or whose writes keep failing for too long, ends with recording-failed.json
// and a failure event. The live stream never waits for the recorder.
//
// Thumbnails are cut from the first frame of a segment (a keyframe) by ffmpeg, when it is installed: Go has no
// H.264 or HEVC decoder.
package record

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/playback"
)

// Config configures a Recorder.
type Config struct {
	Dest   Destination
	Events events.Publisher
	Log    *slog.Logger
	// FFmpeg is the ffmpeg executable that cuts thumbnails; "" when there is none (no thumbnails are written).
	FFmpeg string
	// SegmentTarget: a recorded segment closes at the first live segment boundary after this much media (10 s).
	SegmentTarget time.Duration
	// MaxBuffered bounds the bytes a recording holds that are not written yet (S3 slow or down); beyond it the
	// recording fails (64 MiB).
	MaxBuffered int64
	// MaxOutage: a recording whose writes keep failing this long fails (2 min).
	MaxOutage time.Duration
	Now       func() time.Time
}

// Defaults of Config.
const (
	DefaultSegmentTarget = 10 * time.Second
	DefaultMaxBuffered   = 64 << 20
	DefaultMaxOutage     = 2 * time.Minute
	maxMerged            = 20             // streams merged into one recording by the reconnect window (IVS)
	maxMergeAge          = 48 * time.Hour // a recording this old is not continued (IVS)
)

// Recorder records the streams of channels with a recording configuration. It implements playback.Recorder.
type Recorder struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	waiting map[string]*recording // channel ARN → a recording in its reconnect window
	open    map[*recording]bool   // recordings not finished yet
	closed  bool

	wg     sync.WaitGroup
	ctx    context.Context // cancelled by Close when its deadline passes
	cancel context.CancelFunc
}

var _ playback.Recorder = (*Recorder)(nil)

// New returns a Recorder; Close it.
func New(cfg Config) *Recorder {
	if cfg.SegmentTarget <= 0 {
		cfg.SegmentTarget = DefaultSegmentTarget
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.MaxOutage <= 0 {
		cfg.MaxOutage = DefaultMaxOutage
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Events == nil {
		cfg.Events = events.Discard
	}
	if cfg.FFmpeg == "" {
		cfg.Log.Warn("recording: ffmpeg is not installed, so recordings get no thumbnails (install ffmpeg, e.g. apt-get install ffmpeg)")
	}
	r := &Recorder{cfg: cfg, log: cfg.Log, waiting: map[string]*recording{}, open: map[*recording]bool{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// CheckBucket implements ivs.BucketChecker with the destination.
func (r *Recorder) CheckBucket(ctx context.Context, bucket string) error {
	return r.cfg.Dest.CheckBucket(ctx, bucket)
}

// Close finishes every recording: those waiting for a reconnect end now, and what is left to write is written
// until ctx is done (then it is abandoned, with a log line).
func (r *Recorder) Close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	var waiting []*recording
	for _, rec := range r.waiting {
		waiting = append(waiting, rec)
	}
	r.mu.Unlock()
	for _, rec := range waiting {
		rec.finish()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.mu.Lock()
		n := len(r.open)
		r.mu.Unlock()
		r.log.Warn("recording: shutdown deadline passed with recordings not fully written", "recordings", n)
		r.cancel()
		<-done
	}
	r.cancel()
}

// Record implements playback.Recorder: it starts recording a stream whose channel has an active recording
// configuration, or continues the channel's recording that is waiting in its reconnect window.
func (r *Recorder) Record(ls *live.Stream, renditions []playback.RecordRendition) playback.Recording {
	snap := ls.Snapshot()
	cfg := snap.Channel.Recording
	if cfg == nil {
		return nil
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	if rec := r.waiting[snap.Channel.ARN]; rec != nil && rec.canContinue(snap, cfg, renditions) {
		delete(r.waiting, snap.Channel.ARN)
		r.mu.Unlock()
		if rec.resume(snap, renditions) {
			return rec
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	if cfg.State != "ACTIVE" {
		r.log.Warn("recording: the channel's recording configuration is not ACTIVE; the stream is not recorded",
			"channel", snap.Channel.ARN, "recording_configuration", cfg.ARN, "state", cfg.State)
		r.publish(events.RecordingStartFailure(r.origin(snap.Channel), events.Recording{
			Stream: eventStream(snap), BucketName: cfg.Bucket}, events.ReasonValidationException))
		return nil
	}
	return r.start(snap, cfg, renditions)
}

func (r *Recorder) origin(ch live.Channel) events.Origin {
	return events.Origin{Account: ch.Account, Region: ch.Region, Time: r.cfg.Now()}
}

func (r *Recorder) publish(e events.Event) {
	if err := r.cfg.Events.Publish(context.WithoutCancel(r.ctx), e); err != nil {
		r.log.Error("recording: publishing an event failed", "event", e.EventName(), "err", err)
	}
}

func eventStream(s live.Snapshot) events.Stream {
	return events.Stream{ChannelARN: s.Channel.ARN, ChannelName: s.Channel.Name, StreamID: s.StreamID}
}

// recordingIDAlphabet: recording ids are 12 letters and digits, like IVS's ("j8Z9O91ndcVs").
const recordingIDAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newRecordingID() string {
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = recordingIDAlphabet[int(b[i])%len(recordingIDAlphabet)]
	}
	return string(b)
}

// keyPrefix is IVS's recording prefix: the start time in UTC, without zero padding.
func keyPrefix(account, channelID string, t time.Time, id string) string {
	t = t.UTC()
	return fmt.Sprintf("ivs/v1/%s/%s/%d/%d/%d/%d/%d/%s", account, channelID, t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), id)
}

// errFailed is what a recording's writes return once it has failed.
var errFailed = errors.New("record: the recording has failed")
