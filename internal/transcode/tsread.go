package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/openivs/openivs/internal/hls"
)

// MPEG-TS timestamps: a 33-bit counter at 90 kHz.
const (
	clockRate = 90000
	tsBits    = 33
	tsMask    = 1<<tsBits - 1
	tsHalf    = 1 << (tsBits - 1)
)

// toTicks converts a timestamp to 90 kHz ticks, rounded to the nearest. With fromTicks it round-trips exactly for
// whole milliseconds (what RTMP ingest produces) and for anything that came from ticks (SRT); it does not overflow
// for streams of any realistic length (d*90000 would after 28 hours).
func toTicks(d time.Duration) int64 {
	s, r := int64(d/time.Second), int64(d%time.Second)
	x := r * clockRate
	if x >= 0 {
		return s*clockRate + (x+5e8)/1e9
	}
	return s*clockRate - (-x+5e8)/1e9
}

// fromTicks converts 90 kHz ticks to a timestamp (truncating to the nanosecond).
func fromTicks(t int64) time.Duration {
	return time.Duration(t/clockRate)*time.Second + time.Duration(t%clockRate)*time.Second/clockRate
}

// unwrapper extends 33-bit timestamps to a continuous timeline: each value is taken as the one closest to the
// previous value (so a stream may run for days through any number of wraps).
type unwrapper struct{ last int64 }

func (u *unwrapper) unwrap(raw int64) int64 {
	d := (raw - u.last) & tsMask
	if d >= tsHalf {
		d -= 1 << tsBits
	}
	u.last += d
	return u.last
}

// Stream types of the PMT (ISO 13818-1).
const (
	streamTypeH264 = 0x1b
	streamTypeADTS = 0x0f
)

// tsHandler receives the access units demux finds, with raw 33-bit timestamps.
type tsHandler interface {
	video(pts, dts int64, au [][]byte)
	audio(pts int64, pkts mpeg4audio.ADTSPackets)
}

// demux reads an MPEG-TS stream (one rung's output from ffmpeg: bytes of a child process, so parsed defensively)
// until it ends, handing H.264 access units (Annex-B PES payloads) and ADTS packets of the first H.264 and the
// first ADTS stream of the first PMT to h. Undecodable PES payloads are skipped; it returns nil at the end of the
// stream and an error only when the stream is not MPEG-TS at all (or ctx ends).
func demux(ctx context.Context, r io.Reader, h tsHandler) error {
	dmx := astits.NewDemuxer(ctx, r, astits.DemuxerOptPacketSize(188))
	var videoPID, audioPID uint16
	havePMT := false
	for {
		d, err := nextData(dmx)
		if err != nil {
			if errors.Is(err, astits.ErrNoMorePackets) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			if errors.Is(err, astits.ErrPacketMustStartWithASyncByte) {
				return fmt.Errorf("not MPEG-TS: %w", err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("mpeg-ts: %w", err)
		}
		switch {
		case d.PMT != nil && !havePMT:
			havePMT = true
			for _, es := range d.PMT.ElementaryStreams {
				switch {
				case es.StreamType == streamTypeH264 && videoPID == 0:
					videoPID = es.ElementaryPID
				case es.StreamType == streamTypeADTS && audioPID == 0:
					audioPID = es.ElementaryPID
				}
			}
		case d.PES == nil || d.PES.Header == nil || d.PES.Header.OptionalHeader == nil || d.PES.Header.OptionalHeader.PTS == nil:
		case videoPID != 0 && d.PID == videoPID:
			oh := d.PES.Header.OptionalHeader
			pts := oh.PTS.Base & tsMask
			dts := pts
			if oh.DTS != nil {
				dts = oh.DTS.Base & tsMask
			}
			var au h264.AnnexB
			if au.Unmarshal(d.PES.Data) != nil {
				continue
			}
			h.video(pts, dts, au)
		case audioPID != 0 && d.PID == audioPID:
			var pkts mpeg4audio.ADTSPackets
			if pkts.Unmarshal(d.PES.Data) != nil || len(pkts) == 0 {
				continue
			}
			h.audio(d.PES.Header.OptionalHeader.PTS.Base&tsMask, pkts)
		}
	}
}

// nextData is the demuxer's next data. go-astits is a dependency we do not fuzz ourselves: a panic in it is an error
// here (our own code, outside this call, is not covered, so the fuzz test sees its panics).
func nextData(dmx *astits.Demuxer) (d *astits.DemuxerData, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("mpeg-ts demuxer: %v", p)
		}
	}()
	return dmx.NextData()
}

// rungReader turns one rung's demuxed output into Output calls: timestamps back on the source's timeline, a Track
// call before the first frame and whenever the parameter sets or the audio format change, frames before the first
// keyframe dropped (and audio until then), access unit delimiters removed. The audio-only rung's audio flows from
// its first frame.
type rungReader struct {
	rung      int
	out       Output
	offset    int64           // source ticks = unwrapped ticks - offset + base
	base      *atomic.Int64   // the process's first fed timestamp, in ticks
	hasAudio  bool            // the rung carries audio
	audioOnly bool            // the rung is audio alone (no video, no keyframe to wait for)
	expect    *hls.AudioTrack // the audio track expected before any audio arrives
	vu, au    unwrapper

	*announced      // the tracks last announced for the rung, kept across restarts of ffmpeg
	started    bool // a keyframe has gone out
	onFirst    func()
	firstFired bool
}

// announced is what Track last told the Output about a rung.
type announced struct {
	vtrack *hls.VideoTrack
	atrack *hls.AudioTrack
}

func newRungReader(rung int, out Output, last *announced, offset int64, base *atomic.Int64, expect *hls.AudioTrack, onFirst func()) *rungReader {
	return &rungReader{rung: rung, out: out, announced: last, offset: offset, base: base, hasAudio: expect != nil, expect: expect,
		vu: unwrapper{last: offset}, au: unwrapper{last: offset}, onFirst: onFirst}
}

func (r *rungReader) video(pts, dts int64, au [][]byte) {
	p := r.vu.unwrap(pts)
	// dts is unwrapped against pts (it is never far from it), so the video unwrapper follows presentation time.
	d := p + signed33(dts-pts)
	nalus := au[:0:0]
	var sps, pps []byte
	key := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		case h264.NALUTypeIDR:
			key = true
		}
		nalus = append(nalus, n)
	}
	if len(nalus) == 0 {
		return
	}
	if !r.started {
		if !key || sps == nil || pps == nil {
			return
		}
	}
	if key && sps != nil && pps != nil && (r.vtrack == nil || string(r.vtrack.SPS) != string(sps) || string(r.vtrack.PPS) != string(pps)) {
		v, err := videoTrack(sps, pps)
		if err != nil {
			if !r.started {
				return
			}
		} else {
			r.vtrack = &v
			if r.atrack == nil {
				r.atrack = r.expect
			}
			r.out.Track(r.rung, v, r.atrack)
		}
	}
	r.started = true
	r.fire()
	r.out.Video(r.rung, fromTicks(p-r.offset+r.base.Load()), fromTicks(d-r.offset+r.base.Load()), nalus)
}

func (r *rungReader) audio(pts int64, pkts mpeg4audio.ADTSPackets) {
	if !r.hasAudio {
		return
	}
	p := r.au.unwrap(pts)
	if !r.started && !r.audioOnly {
		return
	}
	for i, pkt := range pkts {
		if pkt.SampleRate <= 0 {
			continue
		}
		if r.atrack == nil || r.atrack.Config.Type != pkt.Type || r.atrack.Config.SampleRate != pkt.SampleRate ||
			r.atrack.Config.ChannelConfig != pkt.ChannelConfig {
			cfg := &mpeg4audio.AudioSpecificConfig{Type: pkt.Type, SampleRate: pkt.SampleRate,
				ChannelConfig: pkt.ChannelConfig, ChannelCount: pkt.ChannelCount} //nolint:staticcheck
			r.atrack = &hls.AudioTrack{Config: cfg, Codec: fmt.Sprintf("mp4a.40.%d", pkt.Type)}
			var v hls.VideoTrack // the audio-only rung's: none
			if r.vtrack != nil {
				v = *r.vtrack
			}
			r.out.Track(r.rung, v, r.atrack)
		}
		r.started = true
		r.fire()
		t := p + int64(i)*mpeg4audio.SamplesPerAccessUnit*clockRate/int64(pkt.SampleRate)
		r.out.Audio(r.rung, fromTicks(t-r.offset+r.base.Load()), pkt.AU)
	}
}

func (r *rungReader) fire() {
	if !r.firstFired {
		r.firstFired = true
		if r.onFirst != nil {
			r.onFirst()
		}
	}
}

// signed33 is a 33-bit difference as a signed number.
func signed33(d int64) int64 {
	d &= tsMask
	if d >= tsHalf {
		d -= 1 << tsBits
	}
	return d
}

// videoTrack describes H.264 parameter sets.
func videoTrack(sps, pps []byte) (hls.VideoTrack, error) {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return hls.VideoTrack{}, fmt.Errorf("invalid SPS: %w", err)
	}
	if len(sps) < 4 {
		return hls.VideoTrack{}, errors.New("invalid SPS: too short")
	}
	return hls.VideoTrack{Kind: hls.H264, SPS: sps, PPS: pps, Codec: fmt.Sprintf("avc1.%02X%02X%02X", sps[1], sps[2], sps[3]),
		Width: s.Width(), Height: s.Height()}, nil
}
