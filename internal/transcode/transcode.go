// Package transcode produces IVS's rendition ladders (STANDARD, ADVANCED_SD and ADVANCED_HD channels) from a live
// source, with ffmpeg as a supervised child process per live channel.
//
// Ladder says which rungs a channel type makes of a source (ivs-reference.md 7.5). A Session runs one ffmpeg for
// the channel: the source goes in on stdin as MPEG-TS, is decoded once, and each rung (split, scaled, re-encoded)
// comes out as MPEG-TS on its own pipe, read back here with go-astits. Timestamps stay on the source's timeline
// (-copyts, a 90 kHz encoder clock, a constant offset we add and remove), and keyframes are forced exactly where
// the source has them (-force_key_frames source, no keyframes of the encoder's own), so the segments of every rung
// and of the source share their boundaries. Audio rides in each rung's TS: copied (byte-identical) or AAC at the
// rung's rate. ADVANCED's audio-only rung is one more pipe of the same process: an AAC-only TS, on the same
// timeline, which the packager cuts at the source's segment boundaries.
//
// The ingest goroutine never waits: WriteVideo and WriteAAC put frames on a bounded queue; when ffmpeg falls
// behind, frames are dropped up to the next source keyframe (logged once per episode). When ffmpeg exits while the
// session is open, Output.State(false, err) reports it with the tail of ffmpeg's stderr, and ffmpeg is restarted
// with backoff (1 s, 2 s, 4 s, 8 s, 10 s...), fed from the next source keyframe; State(true, nil) follows when a
// rung's output flows again. The caller falls back to the source rendition in between.
//
// Each process's input starts at 10 s on the 33-bit MPEG-TS clock (the session's source timeline is restored on the
// way out), so ffmpeg meets the clock's wrap 26.5 hours into a process and corrects it (its demuxer adds 2^33 to
// timestamps after a wrap; tested); a second wrap, 53 hours into one process, it would not: IVS streams end at 48 h.
//
// Without ffmpeg (Config.FFmpeg ""), Start returns ErrNoFFmpeg: the server runs, channels play their source only.
//
// # Measurements
//
// bench/transcode (its README has the commands and the full tables) on the shared 2-core development machine, for
// STANDARD's 1080p30 ladder (720p30, 480p30, 360p30, 160p30 from a 1080p30 source, scalers cascaded): ffmpeg takes
// about 65% of one core per channel with the default preset superfast (veryfast about 80%, ultrafast about 50%):
// by CPU an idle 2-core machine carries 2 such channels with headroom (2.8 by division; two at once could not be
// verified on the shared machine, where other load left them one core and they fell behind), a shared one 1. The
// transcoder adds about 0.55 s (p50; p99 0.75 s) on NORMAL channels and about 0.2 s (p99 0.35 s without stalls) on
// LOW latency channels (-tune zerolatency). superfast is the default: veryfast costs a quarter more CPU for a
// little quality, ultrafast saves a quarter but drops CABAC and B-frames (quality: see the README).
package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/openivs/openivs/internal/hls"
)

// ErrNoFFmpeg is returned by Start when no ffmpeg is configured or found.
var ErrNoFFmpeg = errors.New("transcode: ffmpeg is not available, so STANDARD and ADVANCED channels play their source " +
	"rendition only; install it (Debian/Ubuntu: apt-get install ffmpeg) and configure its path")

// Config configures the transcoder.
type Config struct {
	FFmpeg       string // path; "" means no ffmpeg: Start returns ErrNoFFmpeg
	VideoEncoder string // "libx264" (default); a hardware encoder (h264_nvenc, h264_qsv, h264_vaapi) when present
	// Preset is the x264 preset, default DefaultPreset (measured: see bench/transcode/README.md).
	Preset     string
	LowLatency bool // LL channel: tune for latency (-tune zerolatency: no B-frames, no lookahead)
	Log        *slog.Logger
	// VAAPIDevice is the render node for h264_vaapi (default /dev/dri/renderD128).
	VAAPIDevice string
	// QueueFrames bounds the source frames waiting for ffmpeg (default 300: about 4 s of 30 fps video with audio).
	QueueFrames int
}

// DefaultPreset is the x264 preset used when Config.Preset is empty.
const DefaultPreset = "superfast"

// Source describes the source: H.264 video (Video.Kind == hls.H264), AAC audio or nil.
type Source struct {
	Video hls.VideoTrack
	Audio *hls.AudioTrack
}

// Output receives the rungs' media. For one rung, calls never overlap and come in order (from the rung's reader
// goroutine; a new one after each restart of ffmpeg), so the caller may write straight into a per-rung hls.Muxer,
// which needs a single writer. State calls never overlap each other but may run concurrently with other rungs'
// calls.
type Output interface {
	// Track is called before a rung's first frame (and again after a restart when its parameters changed), with
	// the rung's H.264 parameter sets (SPS, PPS, RFC 6381 Codec string, Width, Height) and its audio track (nil
	// without audio). For the audio-only rung (Rung.AudioOnly), v is the zero VideoTrack and Video is never called.
	Track(rung int, v hls.VideoTrack, a *hls.AudioTrack)
	// Video is one access unit (NAL units, no start codes, no access unit delimiter) on the source's timeline:
	// its pts is the pts of the source frame it was made from; keyframes are where the source has them.
	Video(rung int, pts, dts time.Duration, au [][]byte)
	// Audio is one AAC access unit.
	Audio(rung int, pts time.Duration, au []byte)
	// State reports the transcoder going down (running=false, with the error) and up again.
	State(running bool, err error)
}

// offsetTicks is added to the timestamps written to ffmpeg (and removed from what it returns): the first frame
// written is at 10 s, so B-frame reordering and audio slightly ahead of the first keyframe never go negative.
const offsetTicks = 10 * clockRate

// startOffset is offsetTicks, but for the test of a process whose input wraps the 33-bit clock.
var startOffset int64 = offsetTicks

// Backoff between restarts.
const (
	backoffMin = time.Second
	backoffMax = 10 * time.Second
	stableRun  = 30 * time.Second // a process that ran this long resets the backoff
	// drainTimeout bounds how long Close lets ffmpeg finish what it was given (the renditions' last frames).
	drainTimeout = 3 * time.Second
)

// frame is a source access unit on its way to ffmpeg.
type frame struct {
	video, key bool
	pts, dts   time.Duration
	au         [][]byte // video: NAL units; audio: one AAC access unit in au[0]
}

// Session transcodes one live source.
type Session struct {
	cfg      Config
	src      Source
	rungs    []Rung
	out      Output
	log      *slog.Logger
	args     []string
	queue    chan frame
	draining chan struct{} // closed by Close: feed what is queued, then end ffmpeg's input
	done     chan struct{} // closed when the session stops without waiting for ffmpeg
	wg       sync.WaitGroup

	// the ingest goroutine's
	dropping bool
	dropped  int

	mu     sync.Mutex
	closed bool
	cur    *exec.Cmd

	down atomic.Bool // reported down, not yet up again

	tracks []announced // per rung, used by its reader goroutines (one at a time)
	offset int64       // ticks: what the first frame fed to a process is written at
}

// Start starts transcoding src into rungs: ffmpeg is running when it returns. It fails with ErrNoFFmpeg when
// cfg.FFmpeg is empty or not executable.
func Start(cfg Config, src Source, rungs []Rung, out Output) (*Session, error) {
	if cfg.FFmpeg == "" {
		return nil, ErrNoFFmpeg
	}
	path, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoFFmpeg, err)
	}
	cfg.FFmpeg = path
	if src.Video.Kind != hls.H264 {
		return nil, errors.New("transcode: the source video is not H.264")
	}
	if len(videoRungs(rungs)) == 0 {
		return nil, errors.New("transcode: no video rungs")
	}
	for _, r := range rungs {
		if r.AudioOnly() {
			if src.Audio == nil || r.AudioBitrate <= 0 {
				return nil, fmt.Errorf("transcode: audio-only rung %q: the source has no audio, or no AAC bitrate (%d)", r.Name, r.AudioBitrate)
			}
			continue
		}
		if r.Width <= 0 || r.Height <= 0 || r.Width%2 != 0 || r.Height%2 != 0 || r.VideoBitrate <= 0 {
			return nil, fmt.Errorf("transcode: rung %q: invalid size %dx%d or bitrate %d", r.Name, r.Width, r.Height, r.VideoBitrate)
		}
	}
	if cfg.VideoEncoder == "" {
		cfg.VideoEncoder = "libx264"
	}
	if cfg.Preset == "" {
		cfg.Preset = DefaultPreset
	}
	if cfg.VAAPIDevice == "" {
		cfg.VAAPIDevice = "/dev/dri/renderD128"
	}
	if cfg.QueueFrames <= 0 {
		cfg.QueueFrames = 300
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Session{cfg: cfg, src: src, rungs: rungs, out: out, log: cfg.Log.With("component", "transcode"),
		tracks: make([]announced, len(rungs)), offset: startOffset, args: ffmpegArgs(cfg, src, rungs), queue: make(chan frame, cfg.QueueFrames), draining: make(chan struct{}), done: make(chan struct{})}
	p, err := s.spawn()
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.supervise(p)
	return s, nil
}

// WriteVideo queues a source access unit (NAL units without start codes; au must not be modified afterwards). It
// never blocks: when the queue is full, frames are dropped up to the next keyframe.
func (s *Session) WriteVideo(pts, dts time.Duration, au [][]byte) {
	au = nonEmpty(au)
	if len(au) == 0 {
		return
	}
	key := h264.IsRandomAccess(au)
	if s.dropping && !key {
		s.dropped++
		return
	}
	s.enqueue(frame{video: true, key: key, pts: pts, dts: dts, au: au})
}

// WriteAAC queues a source AAC access unit (never blocking; dropped with the video while the queue overflows).
func (s *Session) WriteAAC(pts time.Duration, au []byte) {
	if len(au) == 0 {
		return
	}
	if s.dropping {
		s.dropped++
		return
	}
	s.enqueue(frame{pts: pts, dts: pts, au: [][]byte{au}})
}

func (s *Session) enqueue(f frame) {
	select {
	case <-s.draining:
		return
	default:
	}
	select {
	case s.queue <- f:
		if s.dropping {
			s.dropping = false
			s.log.Info("transcoder caught up", "dropped_frames", s.dropped)
			s.dropped = 0
		}
	default:
		if !s.dropping {
			s.dropping = true
			s.log.Warn("transcoder falls behind the source: dropping source frames up to the next keyframe",
				"queued", cap(s.queue))
		}
		s.dropped++
	}
}

// Close ends the session: ffmpeg gets what is queued, then the end of its input, so that it encodes every frame
// it was given and the renditions end where the source ends; after drainTimeout it is killed. Close waits for
// every goroutine of the session; Output gets no call once it returns. Call it from the goroutine that writes.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	close(s.draining)
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		s.log.Warn("ffmpeg did not finish the renditions' last frames in time: stopped", "waited", drainTimeout)
	}
	s.mu.Lock()
	close(s.done)
	if s.cur != nil && s.cur.Process != nil {
		_ = s.cur.Process.Kill() // no-op once it has exited
	}
	s.mu.Unlock()
	<-finished
}

// pid is the running ffmpeg's process id, 0 when none (for tests).
func (s *Session) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.Process == nil {
		return 0
	}
	return s.cur.Process.Pid
}

// proc is one ffmpeg process.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	outs   []*os.File // read ends of the rungs' pipes
	stderr *tailBuffer
	start  time.Time
	// base is the source's timestamp, in ticks, of the first frame fed (written at offset); set by the
	// feeder before it writes anything, read by the rung readers.
	base atomic.Int64
}

// spawn starts an ffmpeg, unless the session is closed.
func (s *Session) spawn() (*proc, error) {
	cmd := exec.Command(s.cfg.FFmpeg, s.args...)
	p := &proc{cmd: cmd, stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	detach(cmd)
	var writers []*os.File
	closeAll := func() {
		for _, f := range append(p.outs, writers...) {
			f.Close()
		}
	}
	for range s.rungs {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("transcode: %w", err)
		}
		p.outs, writers = append(p.outs, r), append(writers, w)
	}
	cmd.ExtraFiles = writers
	stdin, err := cmd.StdinPipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("transcode: %w", err)
	}
	p.stdin = stdin
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closeAll()
		stdin.Close()
		return nil, errors.New("transcode: session closed")
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("transcode: starting ffmpeg: %w", err)
	}
	for _, w := range writers { // ffmpeg holds them now: its exit ends the readers' streams
		w.Close()
	}
	p.start = time.Now()
	s.cur = cmd
	return p, nil
}

// supervise runs ffmpeg processes until the session closes.
func (s *Session) supervise(p *proc) {
	defer s.wg.Done()
	backoff := backoffMin
	for {
		err := s.run(p)
		if s.isClosed() {
			return
		}
		if time.Since(p.start) >= stableRun {
			backoff = backoffMin
		}
		s.log.Error("ffmpeg exited: the channel plays its source rendition only until it is back", "err", err,
			"restart_in", backoff)
		// The next process's renditions are announced again (Output.Track), even with the same parameters: what it
		// makes starts after a gap, so the packager starts them afresh on the source's timeline.
		clear(s.tracks)
		s.down.Store(true)
		s.out.State(false, err)
		for {
			if !s.wait(backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
			var serr error
			if p, serr = s.spawn(); serr == nil {
				break
			}
			if s.isClosed() {
				return
			}
			s.log.Error("ffmpeg restart failed", "err", serr, "retry_in", backoff)
		}
	}
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// wait sleeps for d, discarding what the ingest goroutine queues meanwhile (the next process starts from a fresh
// keyframe, not from stale frames); it returns false when the session closes.
func (s *Session) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.draining:
			return false
		case <-t.C:
			return true
		case <-s.queue:
		}
	}
}

// run feeds one ffmpeg and reads its rungs until it exits; it returns why it exited.
func (s *Session) run(p *proc) error {
	exited := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + len(p.outs))
	go func() {
		defer wg.Done()
		s.feed(p, exited)
	}()
	var demuxErr atomic.Value
	for i, f := range p.outs {
		go func() {
			defer wg.Done()
			defer f.Close()
			var expect *hls.AudioTrack
			if s.src.Audio != nil {
				expect = s.src.Audio
				if s.rungs[i].AudioBitrate > 0 { // ffmpeg's AAC encoder: AAC-LC, the source's rate and channels
					c := *s.src.Audio.Config
					c.Type = mpeg4audio.ObjectTypeAACLC
					expect = &hls.AudioTrack{Config: &c, Codec: "mp4a.40.2"}
				}
			}
			rr := newRungReader(i, s.out, &s.tracks[i], s.offset, &p.base, expect, s.up)
			rr.audioOnly = s.rungs[i].AudioOnly()
			if err := demux(context.Background(), f, rr); err != nil {
				// Unreadable output: end this process (and restart), rather than let ffmpeg block on the pipe.
				demuxErr.Store(fmt.Errorf("rung %s: %w", s.rungs[i].Name, err))
				_ = p.cmd.Process.Kill()
				_, _ = io.Copy(io.Discard, f)
			}
		}()
	}
	err := p.cmd.Wait()
	close(exited)
	wg.Wait()
	if e, ok := demuxErr.Load().(error); ok {
		return e
	}
	if err == nil {
		err = errors.New("exited")
	}
	tail := p.stderr.String()
	if tail != "" {
		return fmt.Errorf("ffmpeg: %w: %s", err, tail)
	}
	return fmt.Errorf("ffmpeg: %w", err)
}

// up reports the transcoder running again (the first frame after a restart).
func (s *Session) up() {
	if s.down.CompareAndSwap(true, false) {
		s.log.Info("ffmpeg is back: transcoded renditions flow again")
		s.out.State(true, nil)
	}
}

// feed writes queued frames into ffmpeg's stdin as MPEG-TS, from the first keyframe, until the process exits.
func (s *Session) feed(p *proc, exited <-chan struct{}) {
	defer p.stdin.Close()
	pipe := &errWriter{w: p.stdin}
	bw := bufio.NewWriterSize(pipe, 64<<10)
	vt := &mpegts.Track{Codec: &tscodecs.H264{}}
	tracks := []*mpegts.Track{vt}
	var at *mpegts.Track
	if s.src.Audio != nil {
		at = &mpegts.Track{Codec: &tscodecs.MPEG4Audio{Config: *s.src.Audio.Config}}
		tracks = append(tracks, at)
	}
	w := &mpegts.Writer{W: bw, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		s.log.Error("transcode: mpeg-ts writer", "err", err)
		return
	}
	started, badFrame := false, false
	var base int64
	for {
		var f frame
		select {
		case <-exited:
			return
		case <-s.done:
			return
		case f = <-s.queue:
		case <-s.draining:
			select {
			case f = <-s.queue: // what was queued before Close
			default:
				return // the input ends (stdin closed): ffmpeg flushes its encoders and exits
			}
		}
		if !started {
			if !f.key {
				continue
			}
			started = true
			base = toTicks(f.dts)
			p.base.Store(base)
		}
		ticks := func(d time.Duration) int64 { return (toTicks(d) - base + s.offset) & tsMask }
		var err error
		if f.video {
			// Keyframes carry the parameter sets (ingest may have had them out of band only): ffmpeg's decoder
			// needs them, and a restarted process begins at a keyframe.
			if f.key && !hasNALU(f.au, h264.NALUTypeSPS) && len(s.src.Video.SPS) > 0 {
				f.au = append([][]byte{s.src.Video.SPS, s.src.Video.PPS}, f.au...)
			}
			err = w.WriteH264(vt, ticks(f.pts), ticks(f.dts), f.au)
		} else if at != nil {
			err = w.WriteMPEG4Audio(at, ticks(f.pts), f.au)
		}
		if err == nil {
			err = bw.Flush()
		}
		if pipe.err != nil {
			return // ffmpeg is gone (or going): run reports why
		}
		if err != nil && !badFrame {
			// A frame the TS writer refuses (an AAC frame too large for ADTS...): skipped; logged once.
			badFrame = true
			s.log.Warn("transcode: a source frame cannot be written to ffmpeg; skipped", "err", err)
		}
	}
}

// nonEmpty returns au without empty NAL units (the TS writer needs a first byte), copying only when there are any.
func nonEmpty(au [][]byte) [][]byte {
	for i, n := range au {
		if len(n) == 0 {
			out := append([][]byte(nil), au[:i]...)
			for _, n := range au[i+1:] {
				if len(n) > 0 {
					out = append(out, n)
				}
			}
			return out
		}
	}
	return au
}

func hasNALU(au [][]byte, t h264.NALUType) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == t {
			return true
		}
	}
	return false
}

// errWriter remembers the first error of the writer underneath (the pipe to ffmpeg).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// tailBuffer keeps the last max bytes written (ffmpeg's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(trimSpace(t.b))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
