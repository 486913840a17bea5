package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
)

// handshakeTimeout bounds the RTMP handshake, connect and publish commands and the first media.
const handshakeTimeout = 10 * time.Second

// RTMP serves RTMP and RTMPS publishers.
type RTMP struct {
	Resolver Resolver
	Live     *live.Registry
	Log      *slog.Logger
	// AllowInsecure accepts plain RTMP for every channel (a local-development switch, off by default): IVS
	// accepts plain RTMP only for channels with insecureIngest.
	AllowInsecure bool
	// OnLimitBreach is told when a stream breaks its channel type's input limits, before it is disconnected.
	OnLimitBreach func(ctx context.Context, s live.Snapshot, limit string, value, max int64)
	// OnQuotaBreach is told when a publisher is refused because its account has as many live streams as its
	// concurrent-stream quota allows.
	OnQuotaBreach func(ctx context.Context, account, region string)
	// Packager packages the media for playback.
	Packager Packager

	wg sync.WaitGroup
}

// Serve accepts connections on ln until ctx ends; secure tells whether ln is the TLS (RTMPS) listener. It closes
// ln and every connection it accepted before returning.
func (s *RTMP) Serve(ctx context.Context, ln net.Listener, secure bool) error {
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("rtmp accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
			if err := s.handle(ctx, c, secure); err != nil {
				s.Log.Info("rtmp connection closed", "remote", c.RemoteAddr().String(), "secure", secure, "reason", err.Error())
			}
		}()
	}
}

// metaConn passes messages to the gortmplib Reader and keeps the encoder name from the stream's metadata.
type metaConn struct {
	*gortmplib.ServerConn
	mu      sync.Mutex
	encoder string
}

func (m *metaConn) Read() (message.Message, error) {
	msg, err := m.ServerConn.Read()
	if d, ok := msg.(*message.DataAMF0); ok {
		m.readMetadata(d.Payload)
	}
	return msg, err
}

func (m *metaConn) readMetadata(payload amf0.Data) {
	for _, v := range payload {
		var obj amf0.Object
		switch o := v.(type) {
		case amf0.Object:
			obj = o
		case amf0.ECMAArray:
			obj = amf0.Object(o)
		default:
			continue
		}
		if enc, ok := obj.GetString("encoder"); ok && len(enc) <= 256 {
			m.mu.Lock()
			m.encoder = enc
			m.mu.Unlock()
		}
	}
}

func (m *metaConn) encoderName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.encoder
}

func (s *RTMP) handle(ctx context.Context, c net.Conn, secure bool) error {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc := &gortmplib.ServerConn{RW: c}
	if err := sc.Initialize(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := sc.AcceptConn(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if !sc.Publish {
		return errors.New("playback over RTMP is not offered: play the channel's playbackUrl")
	}
	app, key, ok := strings.Cut(strings.TrimPrefix(sc.URL.Path, "/"), "/")
	if !ok || app != "app" || key == "" || strings.Contains(key, "/") {
		return fmt.Errorf("publish URL must be rtmp(s)://<host>/app/<stream key>")
	}
	ch, err := s.Resolver.ResolveStreamKey(ctx, key)
	if err != nil {
		sc.RejectAction() // the encoder is told the publish failed, rather than seeing a bare EOF
		return fmt.Errorf("stream key %s refused: %w", redact(key), err)
	}
	if !secure && !ch.InsecureIngest && !s.AllowInsecure {
		sc.RejectAction()
		return fmt.Errorf("channel %s does not allow insecure ingest: publish over RTMPS", ch.ARN)
	}
	stream, err := s.Live.Begin(ch.Channel, func() { c.Close() })
	if err != nil {
		sc.RejectAction()
		if errors.Is(err, live.ErrQuota) && s.OnQuotaBreach != nil {
			s.OnQuotaBreach(ctx, ch.Account, ch.Region)
		}
		return fmt.Errorf("channel %s: %w", ch.ARN, err)
	}
	defer stream.End("encoder disconnected")
	if err := sc.AcceptAction(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// The handshake deadline covered writes too: from here the server writes only acknowledgements and pings,
	// which must not time out (a stuck encoder is cut by the idle limit, which closes the connection).
	c.SetWriteDeadline(time.Time{})
	mc := &metaConn{ServerConn: sc}
	r := &gortmplib.Reader{Conn: mc}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("reading tracks: %w", err)
	}
	out := &media{}
	defer out.close()
	video, audio, tracks, meters, err := describe(r, mc.encoderName(), stream, out)
	if err != nil {
		return err
	}
	if code, why := multitrackRefusal(ch.Multitrack, video); code != "" {
		stream.Refuse(video, audio, code)
		return fmt.Errorf("channel %s: refused with %s: %s", ch.ARN, code, why)
	}
	for _, v := range video {
		l := LimitsFor(ch.Type, v.Height)
		if px := v.Width * v.Height; max(v.Width, v.Height) > max(l.MaxWidth, l.MaxHeight) || min(v.Width, v.Height) > min(l.MaxWidth, l.MaxHeight) || px > l.MaxPixels {
			if s.OnLimitBreach != nil {
				s.OnLimitBreach(ctx, stream.Snapshot(), "Ingest Resolution", int64(px), int64(l.MaxPixels))
			}
			return fmt.Errorf("channel %s: input %dx%d exceeds the %s channel's limit", ch.ARN, v.Width, v.Height, ch.Type)
		}
	}
	stream.Describe(video, audio)
	if err := out.open(s.Packager, stream, tracks.video, tracks.audio); err != nil {
		return fmt.Errorf("channel %s: %w", ch.ARN, err)
	}
	s.Log.Info("stream started", "channel", ch.ARN, "stream_id", stream.Snapshot().StreamID, "secure", secure,
		"video", fmt.Sprint(video), "audio", fmt.Sprint(audio))
	lastMeasure := time.Now()
	warmed := false // the first window holds the frames replayed after the track headers: not a rate
	for {
		c.SetReadDeadline(time.Now().Add(live.DefaultLimits.IdleDisconnect + 5*time.Second))
		if err := r.Read(); err != nil {
			select {
			case <-stream.Done():
				return nil // disconnected on purpose (StopStream, idle, duration)
			default:
			}
			return fmt.Errorf("read: %w", err)
		}
		if now := time.Now(); now.Sub(lastMeasure) >= 2*time.Second {
			lastMeasure = now
			if !warmed {
				warmed = true
				for _, m := range meters {
					m.rates(now)
				}
				continue
			}
			for i, m := range meters {
				fps, bps := m.rates(now)
				stream.UpdateVideo(i, fps, bps)
				l := LimitsFor(ch.Type, video[i].Height)
				if bps > l.MaxBitrate*11/10 && m.sustainedOver(l.MaxBitrate*11/10) {
					if s.OnLimitBreach != nil {
						s.OnLimitBreach(ctx, stream.Snapshot(), "Ingest Bitrate", bps, l.MaxBitrate)
					}
					return fmt.Errorf("channel %s: input bitrate %d exceeds the %s channel's limit %d", ch.ARN, bps, ch.Type, l.MaxBitrate)
				}
			}
		}
	}
}

// meter measures a video track's framerate and bitrate over a sliding window.
type meter struct {
	mu      sync.Mutex
	start   time.Time
	frames  int
	bytes   int64
	over    int // consecutive measurements above the limit
	lastBps int64
}

func (m *meter) add(n int) {
	m.mu.Lock()
	m.frames++
	m.bytes += int64(n)
	m.mu.Unlock()
}

func (m *meter) rates(now time.Time) (fps float64, bps int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := now.Sub(m.start).Seconds()
	if d <= 0 {
		return 0, 0
	}
	fps, bps = float64(m.frames)/d, int64(float64(m.bytes*8)/d)
	m.start, m.frames, m.bytes, m.lastBps = now, 0, 0, bps
	return fps, bps
}

// sustainedOver tells whether the bitrate has been over limit for three measurements in a row (6 s): a burst at a
// keyframe is not a breach.
func (m *meter) sustainedOver(limit int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastBps > limit {
		m.over++
	} else {
		m.over = 0
	}
	return m.over >= 3
}

func auSize(au [][]byte) int {
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	return n
}

// packagerTracks are the codec parameters the packager needs.
type packagerTracks struct {
	video []hls.VideoTrack
	audio *hls.AudioTrack
}

// describe reads the tracks' parameters and installs the media callbacks.
func describe(r *gortmplib.Reader, encoder string, stream *live.Stream, out *media) ([]live.Video, []live.Audio, packagerTracks, []*meter, error) {
	var video []live.Video
	var audio []live.Audio
	var pt packagerTracks
	var meters []*meter
	now := time.Now()
	fail := func(err error) ([]live.Video, []live.Audio, packagerTracks, []*meter, error) {
		return nil, nil, packagerTracks{}, nil, err
	}
	addVideo := func(t *gortmplib.Track, kind hls.VideoCodec, vps, sps, pps []byte) error {
		v, vt, err := describeVideo(kind, vps, sps, pps, encoder, len(video))
		if err != nil {
			return err
		}
		m := &meter{start: now}
		meters = append(meters, m)
		video = append(video, v)
		pt.video = append(pt.video, vt)
		track := len(pt.video) - 1
		onData := func(pts, dts time.Duration, au [][]byte) {
			n := auSize(au)
			m.add(n)
			stream.Media(n)
			out.video(track, pts, dts, au)
		}
		if kind == hls.H265 {
			r.OnDataH265(t, onData)
		} else {
			r.OnDataH264(t, onData)
		}
		return nil
	}
	for _, t := range r.Tracks() {
		switch codec := t.Codec.(type) {
		case *codecs.H264:
			if err := addVideo(t, hls.H264, nil, codec.SPS, codec.PPS); err != nil {
				return fail(err)
			}
		case *codecs.H265:
			if err := addVideo(t, hls.H265, codec.VPS, codec.SPS, codec.PPS); err != nil {
				return fail(err)
			}
		case *codecs.MPEG4Audio:
			if codec.Config == nil {
				return fail(errors.New("AAC track without an AudioSpecificConfig"))
			}
			channels := int(codec.Config.ChannelConfig)
			if channels == 7 {
				channels = 8
			}
			audio = append(audio, live.Audio{Codec: fmt.Sprintf("mp4a.40.%d", codec.Config.Type),
				SampleRate: codec.Config.SampleRate, Channels: channels, Track: fmt.Sprintf("Track%d", len(audio))})
			first := pt.audio == nil
			if first {
				pt.audio = &hls.AudioTrack{Config: codec.Config, Codec: audio[len(audio)-1].Codec}
			}
			r.OnDataMPEG4Audio(t, func(pts time.Duration, au []byte) {
				stream.Media(len(au))
				if first {
					out.aac(pts, au)
				}
			})
		default:
			return fail(fmt.Errorf("codec %T is not accepted: publish H.264 or HEVC video and AAC audio", t.Codec))
		}
	}
	if len(video) == 0 {
		return fail(errors.New("no video track: IVS low-latency channels need video"))
	}
	return video, audio, pt, meters, nil
}
