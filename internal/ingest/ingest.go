// Package ingest accepts encoders: RTMP and RTMPS (gortmplib) and SRT (gosrt) listeners that authenticate the stream
// key, refuse what IVS refuses (an unknown key, plain RTMP to a channel without insecureIngest, a second publisher,
// HEVC on a channel without multitrack input), read the media description from the stream itself (codec, profile, level
// and size from the H.264 or HEVC SPS, the AAC configuration, the encoder name from the RTMP metadata), measure
// framerate and bitrate, and hand the stream to the live registry. Bad input closes the connection with a log line; the
// stream key never appears in logs.
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
	// WriteVideo takes an access unit of video track track, in the track's codec (hls.VideoTrack.Kind): NAL units
	// without start codes.
	WriteVideo(track int, pts, dts time.Duration, au [][]byte)
	WriteAAC(pts time.Duration, au []byte)
	// Close ends the stream's packaging.
	Close()
}

// media passes access units to the sink once there is one (the reader's callbacks exist before it).
type media struct{ sink Sink }

func (m *media) video(track int, pts, dts time.Duration, au [][]byte) {
	if m.sink != nil {
		m.sink.WriteVideo(track, pts, dts, au)
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

// multitrackRefusal returns the IVS code refusing the video tracks on the channel, or "", and why, for the log.
func multitrackRefusal(m Multitrack, video []live.Video) (code, why string) {
	switch {
	case len(video) > 1 && !m.Enabled:
		return CodeMultitrackNotAllowed, fmt.Sprintf("%d video tracks: the channel's multitrack input is not enabled", len(video))
	case m.Enabled && m.Policy == "REQUIRE" && len(video) < 2:
		return CodeMultitrackRequired, "one video track: the channel requires multitrack input"
	case len(video) > maxMultitrackVideoTracks:
		return CodeMultitrackTrackCount, fmt.Sprintf("%d video tracks: at most %d are accepted", len(video), maxMultitrackVideoTracks)
	}
	// IVS offers HEVC only through multitrack video, which needs the channel's multitrack input enabled and the
	// FRAGMENTED_MP4 container (the API requires the container when multitrack input is enabled): HEVC is not
	// carried in MPEG-TS. IVS documents no code for HEVC sent elsewhere, or for H.264 and HEVC tracks mixed in one
	// broadcast; both are refused with the code for video track properties the channel does not accept.
	hevc := 0
	for _, v := range video {
		if isHEVC(v) {
			hevc++
		}
	}
	switch {
	case hevc > 0 && !m.Enabled:
		return CodeMultitrackMediaProperties, "HEVC video needs a channel with multitrack input enabled and containerFormat FRAGMENTED_MP4"
	case hevc > 0 && hevc < len(video):
		return CodeMultitrackMediaProperties, "H.264 and HEVC video tracks mixed in one broadcast: send one codec"
	}
	if m.Enabled && len(video) > 1 {
		limit := map[string]int{"SD": 480, "HD": 720, "FULL_HD": 1080}[m.MaximumResolution]
		for _, v := range video {
			if limit > 0 && min(v.Width, v.Height) > limit {
				return CodeMultitrackMediaProperties, fmt.Sprintf("a %dx%d track exceeds the channel's maximum resolution %s",
					v.Width, v.Height, m.MaximumResolution)
			}
		}
	}
	return "", ""
}

// isHEVC tells whether a video track is HEVC (its codec string is hvc1 or hev1).
func isHEVC(v live.Video) bool {
	return strings.HasPrefix(v.Codec, "hvc1.") || strings.HasPrefix(v.Codec, "hev1.")
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
