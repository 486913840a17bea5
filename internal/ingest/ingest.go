// Package ingest accepts encoders: RTMP and RTMPS (gortmplib) and SRT (gosrt) listeners that authenticate the
// stream key, refuse what IVS refuses (an unknown key, plain RTMP to a channel without insecureIngest, a second
// publisher), read the media description from the stream itself (codec, profile, level and size from the H.264
// SPS, the AAC configuration, the encoder name from the RTMP metadata), measure framerate and bitrate, and hand
// the stream to the live registry. Bad input closes the connection with a log line; the stream key never
// appears in logs.
package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
)

// Packager packages a live stream's media for playback (internal/playback, with the HLS packager).
type Packager interface {
	// Package starts packaging a stream whose tracks are known; the Sink then gets every access unit.
	Package(s *live.Stream, video []hls.VideoTrack, audio *hls.AudioTrack) (Sink, error)
}

// Sink receives a stream's media, from the connection's goroutine.
type Sink interface {
	WriteH264(track int, pts, dts time.Duration, au [][]byte)
	WriteAAC(pts time.Duration, au []byte)
	// Close ends the stream's packaging.
	Close()
}

// media passes access units to the sink once there is one (the reader's callbacks exist before it).
type media struct{ sink Sink }

func (m *media) h264(track int, pts, dts time.Duration, au [][]byte) {
	if m.sink != nil {
		m.sink.WriteH264(track, pts, dts, au)
	}
}

func (m *media) aac(pts time.Duration, au []byte) {
	if m.sink != nil {
		m.sink.WriteAAC(pts, au)
	}
}

// open starts packaging; without a packager (unit tests of ingest alone) the stream is playable at once.
func (m *media) open(p Packager, s *live.Stream, video []hls.VideoTrack, audio *hls.AudioTrack) error {
	if p == nil {
		s.Playable()
		return nil
	}
	sink, err := p.Package(s, video, audio)
	if err != nil {
		s.Fail("Stream processing failed. Please try again.")
		return fmt.Errorf("packaging: %w", err)
	}
	m.sink = sink
	return nil
}

func (m *media) close() {
	if m.sink != nil {
		m.sink.Close()
	}
}

// Channel is what a stream key unlocks.
type Channel struct {
	live.Channel
	InsecureIngest bool
	SRTPassphrase  string
	Multitrack     Multitrack
}

// Multitrack is the channel's multitrackInputConfiguration.
type Multitrack struct {
	Enabled           bool
	Policy            string // ALLOW | REQUIRE
	MaximumResolution string // SD | HD | FULL_HD
}

// IVS's codes for multitrack input a channel does not accept (Session Ended code, truncatedEvents code).
const (
	CodeMultitrackNotAllowed      = "MultitrackInputNotAllowed"
	CodeMultitrackRequired        = "MultitrackInputRequired"
	CodeMultitrackTrackCount      = "InvalidMultitrackInputTrackCount"
	CodeMultitrackMediaProperties = "InvalidMultitrackInputVideoTrackMediaProperties"
)

// maxMultitrackVideoTracks is how many video tracks multitrack input may carry (OBS's enhanced broadcasting sends
// up to five renditions).
const maxMultitrackVideoTracks = 5

// multitrackRefusal returns the IVS code refusing the video tracks on the channel, or "".
func multitrackRefusal(m Multitrack, video []live.Video) string {
	switch {
	case len(video) > 1 && !m.Enabled:
		return CodeMultitrackNotAllowed
	case m.Enabled && m.Policy == "REQUIRE" && len(video) < 2:
		return CodeMultitrackRequired
	case len(video) > maxMultitrackVideoTracks:
		return CodeMultitrackTrackCount
	}
	if m.Enabled && len(video) > 1 {
		limit := map[string]int{"SD": 480, "HD": 720, "FULL_HD": 1080}[m.MaximumResolution]
		for _, v := range video {
			if limit > 0 && min(v.Width, v.Height) > limit {
				return CodeMultitrackMediaProperties
			}
		}
	}
	return ""
}

// Resolver authenticates stream keys (the ivs provider).
type Resolver interface {
	ResolveStreamKey(ctx context.Context, key string) (Channel, error)
}

// redact shortens a stream key for logs: its public id part only.
func redact(key string) string {
	parts := strings.Split(key, "_")
	if len(parts) == 4 && parts[0] == "sk" {
		return fmt.Sprintf("sk_%s_%s_***", parts[1], parts[2])
	}
	return "***"
}

// Limits of a channel type: IVS's documented input limits.
type Limits struct {
	MaxWidth, MaxHeight int   // per edge, either orientation
	MaxPixels           int   // width*height
	MaxBitrate          int64 // bits per second, measured
}

// LimitsFor returns the input limits of a channel type.
func LimitsFor(channelType string, height int) Limits {
	l := Limits{MaxWidth: 1920, MaxHeight: 1080, MaxPixels: 1920 * 1080, MaxBitrate: 8_500_000}
	if channelType == "BASIC" {
		l.MaxBitrate = 3_500_000
		if height <= 480 {
			l.MaxBitrate = 1_500_000
		}
	}
	return l
}
