package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	srt "github.com/datarhei/gosrt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mcodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
)

// SRT serves SRT publishers: streamid=<stream key>, the channel's srt.passphrase (unless insecureIngest), and an
// MPEG-TS payload, as IVS takes them.
type SRT struct {
	Resolver      Resolver
	Live          *live.Registry
	Log           *slog.Logger
	OnLimitBreach func(ctx context.Context, s live.Snapshot, limit string, value, max int64)
	// OnQuotaBreach is told when a publisher is refused because its account has as many live streams as its
	// concurrent-stream quota allows.
	OnQuotaBreach func(ctx context.Context, account, region string)
	// Packager packages the media for playback.
	Packager Packager

	wg sync.WaitGroup
}

// ListenSRT opens an SRT listener on addr (UDP).
func ListenSRT(addr string) (srt.Listener, error) {
	cfg := srt.DefaultConfig()
	cfg.ReceiverLatency = 120 * time.Millisecond
	ln, err := srt.Listen("srt", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("srt listener: %w", err)
	}
	return ln, nil
}

// Serve accepts publishers on ln until ctx ends, then closes ln (and with it every connection) and returns.
func (s *SRT) Serve(ctx context.Context, ln srt.Listener) error {
	stop := context.AfterFunc(ctx, ln.Close)
	defer stop()
	for {
		req, err := ln.Accept2()
		if err != nil {
			s.wg.Wait()
			if ctx.Err() != nil || errors.Is(err, srt.ErrListenerClosed) {
				return nil
			}
			return fmt.Errorf("srt accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.handle(ctx, req); err != nil {
				s.Log.Info("srt connection closed", "remote", req.RemoteAddr().String(), "reason", err.Error())
			}
		}()
	}
}

// ts90 converts an MPEG-TS timestamp (90 kHz) to a duration.
func ts90(t int64) time.Duration { return time.Duration(t) * time.Second / 90000 }

func (s *SRT) handle(ctx context.Context, req srt.ConnRequest) error {
	key := req.StreamId()
	ch, err := s.Resolver.ResolveStreamKey(ctx, key)
	if err != nil {
		req.Reject(srt.REJX_UNAUTHORIZED)
		return fmt.Errorf("stream key %s refused: %w", redact(key), err)
	}
	switch {
	case req.IsEncrypted():
		if err := req.SetPassphrase(ch.SRTPassphrase); err != nil {
			req.Reject(srt.REJ_BADSECRET)
			return fmt.Errorf("channel %s: wrong SRT passphrase", ch.ARN)
		}
	case !ch.InsecureIngest:
		req.Reject(srt.REJ_UNSECURE)
		return fmt.Errorf("channel %s: SRT without the channel's passphrase needs insecureIngest", ch.ARN)
	}
	conn, err := req.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	stream, err := s.Live.Begin(ch.Channel, func() { conn.Close() })
	if err != nil {
		if errors.Is(err, live.ErrQuota) && s.OnQuotaBreach != nil {
			s.OnQuotaBreach(ctx, ch.Account, ch.Region)
		}
		return fmt.Errorf("channel %s: %w", ch.ARN, err)
	}
	defer stream.End("encoder disconnected")

	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	r := &mpegts.Reader{R: conn}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("MPEG-TS: %w", err)
	}
	out := &media{}
	defer out.close()
	var (
		videoTrack *mpegts.Track
		audio      []live.Audio
		audioTrack *hls.AudioTrack
		m          = &meter{start: time.Now()}
		described  bool
		breach     error
	)
	for _, t := range r.Tracks() {
		switch codec := t.Codec.(type) {
		case *mcodecs.H264, *mcodecs.H265:
			if videoTrack == nil {
				videoTrack = t
			}
		case *mcodecs.MPEG4Audio:
			channels := int(codec.ChannelConfig)
			if channels == 7 {
				channels = 8
			}
			audio = append(audio, live.Audio{Codec: fmt.Sprintf("mp4a.40.%d", codec.Type), SampleRate: codec.SampleRate,
				Channels: channels, Track: fmt.Sprintf("Track%d", len(audio))})
			first := audioTrack == nil
			if first {
				cfg := codec.Config
				audioTrack = &hls.AudioTrack{Config: &cfg, Codec: audio[len(audio)-1].Codec}
			}
			r.OnDataMPEG4Audio(t, func(pts int64, aus [][]byte) error {
				stream.Media(auSize(aus))
				if first {
					frame := time.Duration(mpeg4audio.SamplesPerAccessUnit) * time.Second / time.Duration(codec.SampleRate)
					for i, au := range aus {
						out.aac(ts90(pts)+time.Duration(i)*frame, au)
					}
				}
				return nil
			})
		}
	}
	if videoTrack == nil {
		return errors.New("no H.264 or HEVC video track in the MPEG-TS: IVS low-latency channels need video")
	}
	kind := hls.H264
	if _, ok := videoTrack.Codec.(*mcodecs.H265); ok {
		kind = hls.H265
	}
	// The track is described from the first access unit that carries its parameter sets.
	onVideo := func(pts, dts int64, au [][]byte) error {
		n := auSize(au)
		m.add(n)
		stream.Media(n)
		if described {
			out.video(0, ts90(pts), ts90(dts), au)
			return nil
		}
		var vps, sps, pps []byte
		if kind == hls.H265 {
			vps, sps, pps = hevcParams(au)
			if vps == nil {
				return nil
			}
		} else {
			sps, pps = h264Params(au)
		}
		if sps == nil || pps == nil {
			return nil
		}
		v, vt, err := describeVideo(kind, vps, sps, pps, "", 0)
		if err != nil {
			return err
		}
		l := LimitsFor(ch.Type, v.Height)
		if px := v.Width * v.Height; max(v.Width, v.Height) > max(l.MaxWidth, l.MaxHeight) || min(v.Width, v.Height) > min(l.MaxWidth, l.MaxHeight) || px > l.MaxPixels {
			if s.OnLimitBreach != nil {
				s.OnLimitBreach(ctx, stream.Snapshot(), "Ingest Resolution", int64(px), int64(l.MaxPixels))
			}
			breach = fmt.Errorf("channel %s: input %dx%d exceeds the %s channel's limit", ch.ARN, v.Width, v.Height, ch.Type)
			return breach
		}
		if code, why := multitrackRefusal(ch.Multitrack, []live.Video{v}); code != "" {
			stream.Refuse([]live.Video{v}, audio, code)
			breach = fmt.Errorf("channel %s: refused with %s: %s", ch.ARN, code, why)
			return breach
		}
		described = true
		stream.Describe([]live.Video{v}, audio)
		if err := out.open(s.Packager, stream, []hls.VideoTrack{vt}, audioTrack); err != nil {
			breach = fmt.Errorf("channel %s: %w", ch.ARN, err)
			return breach
		}
		out.video(0, ts90(pts), ts90(dts), au)
		s.Log.Info("stream started", "channel", ch.ARN, "stream_id", stream.Snapshot().StreamID, "protocol", "srt",
			"video", fmt.Sprint(v), "audio", fmt.Sprint(audio))
		return nil
	}
	if kind == hls.H265 {
		r.OnDataH265(videoTrack, onVideo)
	} else {
		r.OnDataH264(videoTrack, onVideo)
	}
	r.OnDecodeError(func(err error) { s.Log.Debug("srt: MPEG-TS decode error", "channel", ch.ARN, "err", err) })
	lastMeasure, warmed := time.Now(), false
	for {
		conn.SetReadDeadline(time.Now().Add(live.DefaultLimits.IdleDisconnect + 5*time.Second))
		if err := r.Read(); err != nil {
			select {
			case <-stream.Done():
				return nil
			default:
			}
			if breach != nil {
				return breach
			}
			return fmt.Errorf("read: %w", err)
		}
		if now := time.Now(); described && now.Sub(lastMeasure) >= 2*time.Second {
			lastMeasure = now
			fps, bps := m.rates(now)
			if !warmed {
				warmed = true
				continue
			}
			stream.UpdateVideo(0, fps, bps)
		}
	}
}
