package record

import (
	"context"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/playback"
)

type state int

const (
	stRecording state = iota // a stream is attached
	stWaiting                // in the reconnect window
	stFinishing              // the end is being written
	stFailed
)

// recording is one recording: one prefix, one or more streams (merged by the reconnect window).
type recording struct {
	r       *Recorder
	cfg     live.Recording
	ch      live.Channel
	id      string
	prefix  string
	started time.Time
	ext     string // "ts" or "mp4"
	fmp4    bool

	mu        sync.Mutex
	state     state
	streamIDs []string
	all       []hls.Rendition // the stream's renditions (to check a reconnect against)
	tracks    []*track        // the recorded renditions
	byIndex   []*track        // by the stream's rendition index; nil for renditions not recorded
	duration  time.Duration   // of the source's first rendition, recorded or not
	timer     *time.Timer
	startSent bool // Recording Start published (recording-started.json written)

	thumbIndex     int // the rendition thumbnails are cut from; -1 for none
	thumbW, thumbH int
	thumbInit      []byte
	thumbs         int       // sequential thumbnails queued
	lastThumb      time.Time // wall clock of the segment of the last thumbnail
	haveThumb      bool

	// the write queue, run by one goroutine
	jobs   []*job
	bytes  int64 // of the queued jobs
	wake   chan struct{}
	closed bool // no job will be added
	seq    uint64
	latest map[string]uint64 // key → the newest queued job's seq (playlists: only the newest is written)
}

// track is a recorded rendition.
type track struct {
	name          string
	width, height int
	codecs        string
	fps           float64
	init          []byte // fMP4: the current initialization section
	initName      string
	inits         int
	pending       []*hls.Segment // live segments gathered for the next recorded segment
	pendingDur    time.Duration
	total         time.Duration // of the live segments taken
	segs          []fileSegment
	disc          bool // the next recorded segment follows a reconnect
	peak          int64
	transcoded    bool       // made by the transcoder: its muxer may change, its segments may pause
	muxer         *hls.Muxer // the muxer its segments come from (nil: a transcoded rendition not sent yet)
	lastMSN       uint64     // the live segment number of the last segment taken
	haveMSN       bool
}

// fileSegment is a recorded segment: live segments written back to back, each a byte range.
type fileSegment struct {
	name   string
	init   string
	start  time.Time
	dur    time.Duration
	disc   bool
	ranges []byteRange
}

type byteRange struct {
	off, n int64
	dur    time.Duration
}

// job is one write of the queue.
type job struct {
	key   string // relative to the prefix
	ctype string
	body  []byte
	// make, when set, produces the object when the job runs (thumbnails); its error is not retried.
	make  func(ctx context.Context) ([]byte, error)
	keys  []string // more keys the same body goes to (thumbnails: sequential and latest)
	after func()   // runs once the job is done
	final bool     // recording-failed.json: written even though the recording has failed
	seq   uint64
	size  int64
}

func (r *Recorder) start(snap live.Snapshot, cfg *live.Recording, offered []playback.RecordRendition) *recording {
	now := r.cfg.Now()
	renditions := make([]hls.Rendition, len(offered))
	for i, o := range offered {
		renditions[i] = o.Rendition
	}
	rec := &recording{r: r, cfg: *cfg, ch: snap.Channel, id: newRecordingID(), started: now,
		streamIDs: []string{snap.StreamID}, all: renditions, wake: make(chan struct{}, 1), latest: map[string]uint64{},
		thumbIndex: -1}
	rec.prefix = keyPrefix(snap.Channel.Account, snap.Channel.ID, now, rec.id)
	rec.ext = "ts"
	if len(offered) > 0 && offered[0].Muxer != nil {
		rec.ext = offered[0].Muxer.Ext()
	}
	rec.fmp4 = rec.ext == "mp4"
	rec.byIndex = make([]*track, len(renditions))
	var candidates []int // the renditions that may be recorded
	var cands []hls.Rendition
	for i, o := range offered {
		if !o.NotRecorded {
			candidates = append(candidates, i)
			cands = append(cands, o.Rendition)
		}
	}
	for _, c := range selectRenditions(cfg.RenditionSelection, cfg.Renditions, cands) {
		i := candidates[c]
		rd := renditions[i]
		t := &track{name: rd.Name, width: rd.Width, height: rd.Height, codecs: rd.Codecs, fps: rd.FrameRate,
			transcoded: offered[i].Transcoded, muxer: offered[i].Muxer}
		if rec.fmp4 && t.muxer != nil {
			t.init, t.initName = t.muxer.Init(), "init.mp4"
		}
		rec.tracks = append(rec.tracks, t)
		rec.byIndex[i] = t
	}
	// Thumbnails are cut from the source (IVS's default resolution is the source's): its segments never pause.
	var sources []hls.Rendition
	for _, o := range offered {
		if !o.Transcoded {
			sources = append(sources, o.Rendition)
		}
	}
	if cfg.Thumbnails && len(sources) > 0 {
		if r.cfg.FFmpeg == "" {
			r.log.Warn("recording: thumbnails are configured but ffmpeg is not installed: none are written (install ffmpeg, e.g. apt-get install ffmpeg)",
				"channel", snap.Channel.ARN)
		} else {
			rec.thumbIndex = highest(sources) // the source renditions come first
			src := renditions[rec.thumbIndex]
			rec.thumbW, rec.thumbH = thumbnailSize(src.Width, src.Height, cfg.ThumbnailResolution)
			if rec.fmp4 {
				rec.thumbInit = offered[rec.thumbIndex].Muxer.Init()
			}
		}
	}
	for _, t := range rec.tracks {
		if t.init != nil {
			rec.enqueue(&job{key: "media/hls/" + t.name + "/" + t.initName, ctype: "video/mp4", body: t.init})
		}
	}
	body := rec.manifest("RECORDING_STARTED", "", time.Time{}, false)
	startEvent := rec.event(snap.StreamID)
	rec.enqueue(&job{key: "events/recording-started.json", ctype: "application/json", body: body, after: func() {
		rec.mu.Lock()
		rec.startSent = true
		rec.mu.Unlock()
		r.publish(events.RecordingStart(r.origin(rec.ch), startEvent))
	}})
	r.mu.Lock()
	r.open[rec] = true
	r.mu.Unlock()
	r.wg.Add(1)
	go rec.run()
	r.log.Info("recording started", "channel", snap.Channel.ARN, "stream_id", snap.StreamID, "bucket", cfg.Bucket,
		"prefix", rec.prefix, "renditions", len(rec.tracks))
	return rec
}

func (rec *recording) event(streamID string) events.Recording {
	return events.Recording{Stream: events.Stream{ChannelARN: rec.ch.ARN, ChannelName: rec.ch.Name, StreamID: streamID},
		BucketName: rec.cfg.Bucket, KeyPrefix: rec.prefix, SessionID: rec.id, DurationMs: rec.mediaDuration().Milliseconds()}
}

// Segment implements playback.Recording.
func (rec *recording) Segment(i int, seg *hls.Segment) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.state != stRecording || !seg.Complete {
		return
	}
	if i == 0 {
		rec.duration += seg.Duration
	}
	if i == rec.thumbIndex && (!rec.haveThumb || seg.Start.Sub(rec.lastThumb) >= rec.cfg.ThumbnailInterval) {
		rec.haveThumb, rec.lastThumb = true, seg.Start
		rec.thumbnail(seg)
	}
	if i >= len(rec.byIndex) || rec.byIndex[i] == nil {
		return
	}
	t := rec.byIndex[i]
	if t.haveMSN && seg.MSN != t.lastMSN+1 { // the transcoder was down: the timeline jumps
		rec.cut(t)
		t.disc = true
	}
	if !seg.Hold() { // cannot happen to a segment just completed; its media would be gone
		return
	}
	t.lastMSN, t.haveMSN = seg.MSN, true
	t.total += seg.Duration
	t.pending = append(t.pending, seg) // held until cut
	t.pendingDur += seg.Duration
	if t.pendingDur >= rec.r.cfg.SegmentTarget {
		rec.cut(t)
	}
}

// cut writes a track's gathered live segments as one recorded segment, then its playlists; rec.mu held.
func (rec *recording) cut(t *track) {
	if len(t.pending) == 0 {
		return
	}
	size := 0
	for _, s := range t.pending {
		size += s.Size
	}
	body := make([]byte, 0, size)
	fs := fileSegment{name: fmt.Sprintf("%d.%s", segmentNumber(t), rec.ext), init: t.initName,
		start: t.pending[0].Start, disc: t.disc}
	for _, s := range t.pending {
		off := int64(len(body))
		for _, p := range s.Parts {
			body = append(body, p.Data...)
		}
		fs.ranges = append(fs.ranges, byteRange{off: off, n: int64(len(body)) - off, dur: s.Duration})
		fs.dur += s.Duration
	}
	t.release()
	t.pendingDur, t.disc = 0, false
	if fs.dur > 0 {
		t.peak = max(t.peak, int64(len(body))*8*int64(time.Second)/int64(fs.dur))
	}
	t.segs = append(t.segs, fs)
	dir := "media/hls/" + t.name + "/"
	rec.enqueue(&job{key: dir + fs.name, ctype: contentType(rec.ext), body: body})
	rec.enqueuePlaylists(t, false)
}

// release lets go of the track's pending live segments (their media may be given back); rec.mu held.
func (t *track) release() {
	for _, s := range t.pending {
		s.Release()
	}
	t.pending = nil
}

func segmentNumber(t *track) int { return len(t.segs) }

// mediaDuration is the recording's duration_ms: the longest recorded rendition's (a transcoded rendition starts
// with the source's second segment, and pauses while the transcoder is down), or the source's when no rendition is
// recorded; rec.mu held.
func (rec *recording) mediaDuration() time.Duration {
	if len(rec.tracks) == 0 {
		return rec.duration
	}
	var d time.Duration
	for _, t := range rec.tracks {
		d = max(d, t.total)
	}
	return d
}

// Track implements playback.Recording: transcoded rendition i has a (new) muxer.
func (rec *recording) Track(i int, m *hls.Muxer, codecs string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.state != stRecording || i >= len(rec.byIndex) || rec.byIndex[i] == nil || rec.byIndex[i].muxer == m {
		return
	}
	t := rec.byIndex[i]
	restarted := t.muxer != nil
	t.muxer, t.codecs = m, codecs
	if restarted { // a new encoder: what it makes follows a gap
		rec.cut(t)
		t.disc = true
	}
	if rec.fmp4 {
		rec.newInit(t, m.Init())
	}
}

// newInit makes init the track's initialization section for the segments that follow: written under a new name
// when it differs from the current one; rec.mu held.
func (rec *recording) newInit(t *track, init []byte) {
	if t.init != nil && string(init) == string(t.init) {
		return
	}
	if t.init == nil {
		t.initName = "init.mp4"
	} else {
		t.inits++
		t.initName = fmt.Sprintf("init-%d.mp4", t.inits)
	}
	t.init = init
	rec.enqueue(&job{key: "media/hls/" + t.name + "/" + t.initName, ctype: "video/mp4", body: init})
}

// enqueuePlaylists queues a track's playlists and the multivariant playlists, as they are now; rec.mu held.
func (rec *recording) enqueuePlaylists(t *track, ended bool) {
	dir := "media/hls/" + t.name + "/"
	rec.enqueue(&job{key: dir + "playlist.m3u8", ctype: contentTypeM3U8, body: mediaPlaylist(t.segs, rec.fmp4, ended, false)})
	rec.enqueue(&job{key: dir + "byte-range-variant.m3u8", ctype: contentTypeM3U8, body: mediaPlaylist(t.segs, rec.fmp4, ended, true)})
	rec.enqueue(&job{key: "media/hls/master.m3u8", ctype: contentTypeM3U8, body: multivariant(rec.tracks, "playlist.m3u8")})
	rec.enqueue(&job{key: "media/hls/byte-range-multivariant.m3u8", ctype: contentTypeM3U8, body: multivariant(rec.tracks, "byte-range-variant.m3u8")})
}

// End implements playback.Recording: the stream ended. With a reconnect window the recording waits for the
// channel's next stream; otherwise it is finished.
func (rec *recording) End() {
	r := rec.r
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.mu.Lock()
	if rec.state != stRecording {
		rec.mu.Unlock()
		return
	}
	for _, t := range rec.tracks {
		rec.cut(t)
	}
	if rec.cfg.ReconnectWindow > 0 && !r.closed {
		rec.state = stWaiting
		r.waiting[rec.ch.ARN] = rec
		rec.timer = time.AfterFunc(rec.cfg.ReconnectWindow, rec.finish)
		rec.mu.Unlock()
		return
	}
	rec.mu.Unlock()
	rec.finishLocked()
}

// finish ends a recording waiting in its reconnect window.
func (rec *recording) finish() {
	rec.r.mu.Lock()
	defer rec.r.mu.Unlock()
	rec.finishLocked()
}

// finishLocked writes the end of the recording: final playlists, recording-ended.json, then the Recording End
// event; r.mu held.
func (rec *recording) finishLocked() {
	r := rec.r
	if r.waiting[rec.ch.ARN] == rec {
		delete(r.waiting, rec.ch.ARN)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.state != stRecording && rec.state != stWaiting {
		return
	}
	rec.state = stFinishing
	if rec.timer != nil {
		rec.timer.Stop()
	}
	for _, t := range rec.tracks {
		if len(t.segs) > 0 {
			rec.enqueuePlaylists(t, true)
		}
	}
	ended := r.cfg.Now()
	ev := rec.event(rec.streamIDs[len(rec.streamIDs)-1])
	ev.SessionStreamIDs = append([]string(nil), rec.streamIDs...)
	rec.enqueue(&job{key: "events/recording-ended.json", ctype: "application/json",
		body: rec.manifest("RECORDING_ENDED", "", ended, true), after: func() {
			r.publish(events.RecordingEnd(r.origin(rec.ch), ev))
			r.log.Info("recording ended", "channel", rec.ch.ARN, "prefix", rec.prefix, "duration_ms", ev.DurationMs,
				"streams", len(ev.SessionStreamIDs))
		}})
	rec.closeQueue()
}

// canContinue tells whether a new stream of the channel continues this recording (IVS's merge rules: same
// configuration, same renditions with the same size and codecs, at most 20 streams, at most 48 hours); r.mu held.
func (rec *recording) canContinue(snap live.Snapshot, cfg *live.Recording, renditions []playback.RecordRendition) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.state != stWaiting || cfg.ARN != rec.cfg.ARN || cfg.State != "ACTIVE" || len(rec.streamIDs) >= maxMerged ||
		rec.r.cfg.Now().Sub(rec.started) > maxMergeAge || len(renditions) != len(rec.all) {
		return false
	}
	for i, rd := range renditions {
		o := rec.all[i]
		if rd.Name != o.Name || rd.Width != o.Width || rd.Height != o.Height || rd.Codecs != o.Codecs {
			return false
		}
	}
	return true
}

// resume attaches a reconnected stream; false when the window closed meanwhile.
func (rec *recording) resume(snap live.Snapshot, offered []playback.RecordRendition) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.state != stWaiting {
		return false
	}
	rec.timer.Stop()
	rec.state = stRecording
	rec.streamIDs = append(rec.streamIDs, snap.StreamID)
	rec.haveThumb = false
	for i, t := range rec.byIndex {
		if t == nil {
			continue
		}
		t.disc, t.haveMSN = true, false
		t.muxer = offered[i].Muxer // transcoded renditions: nil until Track
		if rec.fmp4 && t.muxer != nil {
			rec.newInit(t, t.muxer.Init())
		}
	}
	if rec.fmp4 && rec.thumbIndex >= 0 {
		rec.thumbInit = offered[rec.thumbIndex].Muxer.Init()
	}
	rec.r.log.Info("recording continued by a reconnect", "channel", rec.ch.ARN, "stream_id", snap.StreamID, "prefix", rec.prefix)
	return true
}

// enqueue adds a write to the queue; rec.mu held. A recording whose unwritten bytes would pass the bound fails.
func (rec *recording) enqueue(j *job) {
	if rec.closed {
		return
	}
	if j.size == 0 {
		j.size = int64(len(j.body))
	}
	if rec.bytes+j.size > rec.r.cfg.MaxBuffered {
		rec.failLocked(fmt.Errorf("%d bytes are waiting to be written (limit %d)", rec.bytes+j.size, rec.r.cfg.MaxBuffered))
		return
	}
	rec.seq++
	j.seq = rec.seq
	rec.latest[j.key] = j.seq
	rec.jobs = append(rec.jobs, j)
	rec.bytes += j.size
	rec.signal()
}

func (rec *recording) signal() {
	select {
	case rec.wake <- struct{}{}:
	default:
	}
}

func (rec *recording) closeQueue() {
	rec.closed = true
	rec.signal()
}

// failLocked ends the recording with a failure: what is queued is dropped, recording-failed.json is written (when
// the recording had started) and the failure event sent (from under rec.mu: the bus only writes it to its outbox);
// rec.mu held.
func (rec *recording) failLocked(cause error) {
	if rec.state == stFailed {
		return
	}
	r := rec.r
	rec.r.log.Error("recording failed: it ends with recording-failed.json; the live stream goes on", "channel", rec.ch.ARN,
		"prefix", rec.prefix, "err", cause)
	rec.state = stFailed
	if rec.timer != nil {
		rec.timer.Stop()
	}
	for _, j := range rec.jobs {
		rec.bytes -= j.size
	}
	rec.jobs = nil
	for _, t := range rec.tracks {
		t.release()
	}
	ev := rec.event(rec.streamIDs[len(rec.streamIDs)-1])
	if !rec.startSent {
		r.publish(events.RecordingStartFailure(r.origin(rec.ch), ev, events.ReasonInternalServerException))
		rec.closeQueue()
		return
	}
	r.publish(events.RecordingEndFailure(r.origin(rec.ch), ev, events.ReasonInternalServerException))
	j := &job{key: "events/recording-failed.json", ctype: "application/json", final: true,
		body: rec.manifest("RECORDING_ENDED_WITH_FAILURE", events.ReasonInternalServerException, r.cfg.Now(), true)}
	rec.seq++
	j.seq = rec.seq
	rec.latest[j.key] = j.seq
	rec.jobs = append(rec.jobs, j)
	rec.closeQueue()
}

// next takes the next job; ok is false when the queue is closed and empty.
func (rec *recording) next(ctx context.Context) (j *job, ok bool) {
	for {
		rec.mu.Lock()
		for len(rec.jobs) > 0 {
			j = rec.jobs[0]
			rec.jobs[0] = nil // the array outlives the slice's start: a written segment must not stay reachable
			rec.jobs = rec.jobs[1:]
			if j.seq != rec.latest[j.key] && j.key != "" && j.make == nil {
				rec.bytes -= j.size // a newer version of this object is queued
				continue
			}
			rec.mu.Unlock()
			return j, true
		}
		closed := rec.closed
		rec.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-rec.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// run writes the queue, in order, retrying each write with backoff.
func (rec *recording) run() {
	r := rec.r
	defer func() {
		r.mu.Lock()
		delete(r.open, rec)
		r.mu.Unlock()
		r.wg.Done()
	}()
	for {
		j, ok := rec.next(r.ctx)
		if !ok {
			return
		}
		rec.do(r.ctx, j)
	}
}

// Backoff of failed writes.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 10 * time.Second
)

func (rec *recording) do(ctx context.Context, j *job) {
	r := rec.r
	defer func() {
		rec.mu.Lock()
		rec.bytes -= j.size
		rec.mu.Unlock()
	}()
	body := j.body
	if j.make != nil {
		var err error
		if body, err = j.make(ctx); err != nil {
			r.log.Warn("recording: a thumbnail could not be made", "prefix", rec.prefix, "err", err)
			return
		}
	}
	var failingSince time.Time
	backoff := retryFirst
	for {
		err := rec.put(ctx, append([]string{j.key}, j.keys...), j.ctype, body)
		if err == nil {
			if !failingSince.IsZero() {
				r.log.Info("recording: writing works again", "prefix", rec.prefix, "after", r.cfg.Now().Sub(failingSince).Round(time.Millisecond))
			}
			if j.after != nil {
				j.after()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		rec.mu.Lock()
		failed := rec.state == stFailed
		rec.mu.Unlock()
		if failed && !j.final {
			return
		}
		now := r.cfg.Now()
		if failingSince.IsZero() {
			failingSince = now
			r.log.Warn("recording: a write failed; retrying", "prefix", rec.prefix, "key", j.key, "err", err)
		}
		if now.Sub(failingSince) > r.cfg.MaxOutage {
			if j.final {
				r.log.Error("recording: recording-failed.json could not be written", "prefix", rec.prefix, "err", err)
				return
			}
			rec.mu.Lock()
			rec.failLocked(fmt.Errorf("writes failed for %s: %w", now.Sub(failingSince).Round(time.Second), err))
			rec.mu.Unlock()
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, retryMax)
	}
}

// put writes one body to each key under the prefix.
func (rec *recording) put(ctx context.Context, keys []string, ctype string, body []byte) error {
	for _, k := range keys {
		if err := rec.r.cfg.Dest.Put(ctx, rec.cfg.Bucket, path.Join(rec.prefix, k), ctype, body); err != nil {
			return err
		}
	}
	return nil
}
