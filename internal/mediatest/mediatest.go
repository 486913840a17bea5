// Package mediatest reads media fixtures for tests: the access units of an MPEG-TS file (H.264 or HEVC video, AAC
// audio) with their timestamps and the video's parameter sets.
package mediatest

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// Frame is a video access unit (NAL units without start codes) or an AAC access unit (one element), on the
// file's 90 kHz timeline.
type Frame struct {
	Video    bool
	PTS, DTS time.Duration
	AU       [][]byte
}

// TS is what an MPEG-TS file holds.
type TS struct {
	Frames        []Frame // in the order of the file
	HEVC          bool    // the video is HEVC (else H.264)
	VPS, SPS, PPS []byte  // the video's parameter sets, the last seen (no VPS in H.264)
	AAC           *mpeg4audio.AudioSpecificConfig
}

// ReadTS reads the first video track and the first AAC track of an MPEG-TS file.
func ReadTS(path string) (*TS, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &mpegts.Reader{R: bufio.NewReader(f)}
	if err := r.Initialize(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := &TS{}
	ts := func(x int64) time.Duration { return time.Duration(x) * time.Second / 90000 }
	video := func(pts, dts int64, au [][]byte) error {
		for _, n := range au {
			switch {
			case len(n) == 0:
			case out.HEVC && h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_VPS_NUT:
				out.VPS = n
			case out.HEVC && h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_SPS_NUT,
				!out.HEVC && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS:
				out.SPS = n
			case out.HEVC && h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_PPS_NUT,
				!out.HEVC && h264.NALUType(n[0]&0x1f) == h264.NALUTypePPS:
				out.PPS = n
			}
		}
		out.Frames = append(out.Frames, Frame{Video: true, PTS: ts(pts), DTS: ts(dts), AU: au})
		return nil
	}
	var haveVideo bool
	for _, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *tscodecs.H264:
			if !haveVideo {
				haveVideo = true
				r.OnDataH264(tr, video)
			}
		case *tscodecs.H265:
			if !haveVideo {
				haveVideo, out.HEVC = true, true
				r.OnDataH265(tr, video)
			}
		case *tscodecs.MPEG4Audio:
			if out.AAC != nil {
				continue
			}
			cfg := c.Config
			out.AAC = &cfg
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				for i, au := range aus {
					p := ts(pts) + time.Duration(i)*mpeg4audio.SamplesPerAccessUnit*time.Second/time.Duration(cfg.SampleRate)
					out.Frames = append(out.Frames, Frame{PTS: p, DTS: p, AU: [][]byte{au}})
				}
				return nil
			})
		}
	}
	for r.Read() == nil {
	}
	if !haveVideo || out.SPS == nil {
		return nil, fmt.Errorf("%s: no H.264 or HEVC video with parameter sets", path)
	}
	return out, nil
}
