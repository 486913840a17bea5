package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	amp4 "github.com/abema/go-mp4"
	"github.com/asticode/go-astits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	mp4codecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/substructs"
)

// Timescales.
const videoTimescale = 90000

// videoSample is one access unit of the video track, on the stream's timeline (0 = the first video frame).
type videoSample struct {
	dts, pts time.Duration
	dur      time.Duration // until the next frame's dts
	key      bool
	au       [][]byte
}

// audioSample is one AAC access unit; ticks is its position in samples of the audio clock.
type audioSample struct {
	ticks uint64
	au    []byte
}

// cue is an ID3 tag to carry at a point of the timeline.
type cue struct {
	at  time.Duration
	tag []byte
}

// partInput is what a part is made of.
type partInput struct {
	seq   uint32        // fMP4 sequence number
	start time.Duration // on the timeline: the first video frame's decode time; audio-only, the part's start
	video []*videoSample
	audio []*audioSample
	cues  []cue
	first bool // the part opens a segment
}

// format encodes parts in one container.
type format interface {
	// initSection is the fMP4 initialisation section; nil for TS.
	initSection() []byte
	// encode returns the part's bytes, valid until the next call (the muxer copies them to its store).
	encode(p *partInput) ([]byte, error)
	ext() string
}

// --- fragmented MP4 (CMAF): one init section with the video and the audio track (audio-only: the audio track
// alone), parts as moof+mdat pairs,
// timed metadata as emsg boxes before the part's moof, twice: version 1 with the scheme
// https://aomedia.org/emsg/ID3 (AOM's carriage of ID3 in CMAF, which hls.js reads), and version 0 with the scheme
// urn:twitch:id3 (the only one the IVS web player reads; found in its wasm and confirmed with it).

const (
	emsgID3Scheme = "https://aomedia.org/emsg/ID3"
	// emsgTwitchID3Scheme is the scheme the IVS web player reads ID3 from in fMP4, in version 0 boxes (hls.js
	// ignores it).
	emsgTwitchID3Scheme = "urn:twitch:id3"
)

type fmp4Format struct {
	init       []byte
	audioRate  uint32
	audioID    int // the audio track's ID: 2, or 1 without video
	hasAudio   bool
	emsgNextID uint32
}

// newFMP4 makes the init section of a video track (nil: none) and an audio track (nil: none).
func newFMP4(v *VideoTrack, a *AudioTrack) (*fmp4Format, error) {
	f := &fmp4Format{}
	var init fmp4.Init
	if v != nil {
		var codec mp4codecs.Codec = &mp4codecs.H264{SPS: v.SPS, PPS: v.PPS}
		if v.Kind == H265 {
			codec = &mp4codecs.H265{VPS: v.VPS, SPS: v.SPS, PPS: v.PPS} // an hvc1 sample entry, parameter sets in hvcC
		}
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: 1, TimeScale: videoTimescale, Codec: codec})
	}
	if a != nil {
		f.hasAudio, f.audioRate, f.audioID = true, uint32(a.Config.SampleRate), len(init.Tracks)+1
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: f.audioID, TimeScale: f.audioRate, Codec: &mp4codecs.MPEG4Audio{Config: *a.Config}})
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("fmp4 init: %w", err)
	}
	f.init = buf.Bytes()
	if v != nil && v.Kind == H265 {
		if err := fixHvcC(f.init, v.SPS); err != nil {
			return nil, fmt.Errorf("fmp4 init: %w", err)
		}
	}
	return f, nil
}

// fixHvcC copies the SPS's general profile_tier_level into the init section's hvcC box, whose first 13 bytes
// are the configuration version and the same 12 bytes: mediacommon v2.9.4 leaves the profile space and the tier
// at 0 and takes the constraint indicator flags from the wrong bytes of the SPS.
func fixHvcC(init, sps []byte) error {
	rbsp := h264.EmulationPreventionRemove(sps)
	if len(rbsp) < 15 {
		return errors.New("HEVC SPS too short for profile_tier_level")
	}
	var at int64 = -1
	_, err := amp4.ReadBoxStructure(bytes.NewReader(init), func(h *amp4.ReadHandle) (any, error) {
		if h.BoxInfo.Type == amp4.BoxTypeHvcC() {
			at = int64(h.BoxInfo.Offset + h.BoxInfo.HeaderSize)
			return nil, nil
		}
		if h.BoxInfo.IsSupportedType() {
			return h.Expand()
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("reading the init section: %w", err)
	}
	if at < 0 || at+13 > int64(len(init)) {
		return errors.New("no hvcC box in the init section")
	}
	copy(init[at+1:at+13], rbsp[3:15])
	return nil
}

func (f *fmp4Format) initSection() []byte { return f.init }
func (f *fmp4Format) ext() string         { return "mp4" }

func ticks(d time.Duration, rate int64) int64 { return int64(d) * rate / int64(time.Second) }

func (f *fmp4Format) encode(p *partInput) ([]byte, error) {
	var out bytes.Buffer
	for _, c := range p.cues {
		f.emsgNextID++
		e := &amp4.Emsg{FullBox: amp4.FullBox{Version: 1}, SchemeIdUri: emsgID3Scheme, Value: "",
			Timescale: videoTimescale, PresentationTime: uint64(ticks(c.at, videoTimescale)), EventDuration: 0xFFFFFFFF,
			Id: f.emsgNextID, MessageData: c.tag}
		if err := writeBox(&out, e); err != nil {
			return nil, fmt.Errorf("emsg: %w", err)
		}
		e0 := &amp4.Emsg{FullBox: amp4.FullBox{Version: 0}, SchemeIdUri: emsgTwitchID3Scheme, Value: "",
			Timescale: videoTimescale, PresentationTimeDelta: uint32(max(0, ticks(c.at-p.start, videoTimescale))), EventDuration: 0xFFFFFFFF,
			Id: f.emsgNextID, MessageData: c.tag}
		if err := writeBox(&out, e0); err != nil {
			return nil, fmt.Errorf("emsg: %w", err)
		}
	}
	part := fmp4.Part{SequenceNumber: p.seq}
	if len(p.video) > 0 {
		vt := &fmp4.PartTrack{ID: 1, BaseTime: uint64(ticks(p.video[0].dts, videoTimescale))}
		for _, s := range p.video {
			payload, err := h264.AVCC(s.au).Marshal()
			if err != nil {
				return nil, fmt.Errorf("avcc: %w", err)
			}
			// durations from tick positions, so rounding never accumulates
			d := ticks(s.dts+s.dur, videoTimescale) - ticks(s.dts, videoTimescale)
			vt.Samples = append(vt.Samples, &fmp4.Sample{Duration: uint32(d),
				PTSOffset: int32(ticks(s.pts, videoTimescale) - ticks(s.dts, videoTimescale)), IsNonSyncSample: !s.key, Payload: payload})
		}
		part.Tracks = append(part.Tracks, vt)
	}
	if f.hasAudio && len(p.audio) > 0 {
		at := &fmp4.PartTrack{ID: f.audioID, BaseTime: p.audio[0].ticks}
		for _, s := range p.audio {
			at.Samples = append(at.Samples, &fmp4.Sample{Duration: mpeg4audio.SamplesPerAccessUnit, Payload: s.au})
		}
		part.Tracks = append(part.Tracks, at)
	}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("fmp4 part: %w", err)
	}
	out.Write(buf.Bytes())
	return out.Bytes(), nil
}

// writeBox writes one box: size, type, then the payload go-mp4 marshals.
func writeBox(w *bytes.Buffer, box amp4.IBox) error {
	var payload bytes.Buffer
	if _, err := amp4.Marshal(&payload, box, amp4.Context{}); err != nil {
		return err
	}
	size := 8 + payload.Len()
	typ := box.GetType()
	w.Write([]byte{byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)})
	w.Write(typ[:])
	w.Write(payload.Bytes())
	return nil
}

// --- MPEG-TS: H.264 with an access unit delimiter and, on keyframes, the SPS and PPS in band; AAC in ADTS; timed
// metadata as an ID3 PES stream (stream_type 0x15 with the 'ID3 ' metadata descriptor, as Apple's timed-metadata
// specification and hls.js expect). Every segment starts with PAT and PMT. Without video (audio-only) the audio
// carries the PCR.

const (
	pidVideo = 256
	pidAudio = 257
	pidID3   = 258
	// tsOffset keeps timestamps positive when B-frames put a presentation time before the first decode time.
	tsOffset = time.Second
)

type tsFormat struct {
	out       *bytes.Buffer
	mux       *astits.Muxer
	sps       []byte
	pps       []byte
	audio     *mpeg4audio.AudioSpecificConfig
	rate      int64
	audioOnly bool // no video: the audio PID carries the PCR
}

// newTS makes the muxer of an H.264 track (nil: none) and an AAC track (nil: none).
func newTS(v *VideoTrack, a *AudioTrack) (*tsFormat, error) {
	f := &tsFormat{out: &bytes.Buffer{}, audioOnly: v == nil}
	f.mux = astits.NewMuxer(context.Background(), f.out)
	if v != nil {
		f.sps, f.pps = v.SPS, v.PPS
		if err := f.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: pidVideo, StreamType: astits.StreamTypeH264Video}); err != nil {
			return nil, err
		}
	}
	if a != nil {
		f.audio, f.rate = a.Config, int64(a.Config.SampleRate)
		if err := f.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: pidAudio, StreamType: astits.StreamTypeAACAudio}); err != nil {
			return nil, err
		}
	}
	const id3 = 0x49443320 // 'ID3 '
	desc, err := substructs.MetadataDescriptor{MetadataApplicationFormat: 0xFFFF, MetadataApplicationFormatIdentifier: id3,
		MetadataFormat: 0xFF, MetadataFormatIdentifier: id3}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("id3 descriptor: %w", err)
	}
	if err := f.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: pidID3, StreamType: astits.StreamTypeMetadata,
		ElementaryStreamDescriptors: []*astits.Descriptor{{Length: 1, Tag: substructs.DescriptorTagMetadata,
			Unknown: &astits.DescriptorUnknown{Content: desc}}}}); err != nil {
		return nil, err
	}
	if f.audioOnly {
		f.mux.SetPCRPID(pidAudio)
	} else {
		f.mux.SetPCRPID(pidVideo)
	}
	return f, nil
}

func (f *tsFormat) initSection() []byte { return nil }
func (f *tsFormat) ext() string         { return "ts" }

func ts90k(d time.Duration) int64 { return ticks(d+tsOffset, videoTimescale) }

func (f *tsFormat) encode(p *partInput) ([]byte, error) {
	f.out.Reset()
	if p.first {
		if _, err := f.mux.WriteTables(); err != nil {
			return nil, fmt.Errorf("ts tables: %w", err)
		}
		// Every segment carries a tag on the ID3 stream: the IVS player waits for data on each stream the PMT
		// declares before it plays, so a channel without PutMetadata would never start in it. The heartbeat is a
		// PRIV frame (owner segmentID3Owner), which players do not show as text cues.
		if err := f.writeID3(cue{at: p.start, tag: segmentID3(p.seq)}); err != nil {
			return nil, err
		}
	}
	if f.audioOnly {
		return f.encodeAudio(p)
	}
	// interleave by time: each video frame, then the audio and cues up to the next frame
	ai, ci := 0, 0
	for i, v := range p.video {
		if err := f.writeVideo(v); err != nil {
			return nil, err
		}
		until := v.dts + v.dur
		if i == len(p.video)-1 {
			until = 1<<63 - 1
		}
		j := ai
		for j < len(p.audio) && f.audioTime(p.audio[j]) < until {
			j++
		}
		if j > ai {
			if err := f.writeAudio(p.audio[ai:j]); err != nil {
				return nil, err
			}
			ai = j
		}
		for ci < len(p.cues) && p.cues[ci].at < until {
			if err := f.writeID3(p.cues[ci]); err != nil {
				return nil, err
			}
			ci++
		}
	}
	return f.out.Bytes(), nil
}

// encodeAudio writes an audio-only part: its audio in runs, each cue before the audio at or after its time.
func (f *tsFormat) encodeAudio(p *partInput) ([]byte, error) {
	ai := 0
	for _, c := range p.cues {
		j := ai
		for j < len(p.audio) && f.audioTime(p.audio[j]) < c.at {
			j++
		}
		if err := f.writeAudio(p.audio[ai:j]); err != nil {
			return nil, err
		}
		ai = j
		if err := f.writeID3(c); err != nil {
			return nil, err
		}
	}
	if err := f.writeAudio(p.audio[ai:]); err != nil {
		return nil, err
	}
	return f.out.Bytes(), nil
}

func (f *tsFormat) audioTime(s *audioSample) time.Duration {
	return time.Duration(int64(s.ticks) * int64(time.Second) / f.rate)
}

func (f *tsFormat) writeVideo(v *videoSample) error {
	au := make([][]byte, 0, len(v.au)+3)
	au = append(au, []byte{byte(h264.NALUTypeAccessUnitDelimiter), 0xF0})
	if v.key {
		au = append(au, f.sps, f.pps)
	}
	for _, n := range v.au {
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS, h264.NALUTypePPS:
			if v.key {
				continue // written above
			}
		}
		au = append(au, n)
	}
	data, err := h264.AnnexB(au).Marshal()
	if err != nil {
		return fmt.Errorf("annex-b: %w", err)
	}
	oh := &astits.PESOptionalHeader{MarkerBits: 2, PTSDTSIndicator: astits.PTSDTSIndicatorBothPresent,
		DTS: &astits.ClockReference{Base: ts90k(v.dts)}, PTS: &astits.ClockReference{Base: ts90k(v.pts)}}
	if v.pts == v.dts {
		oh.PTSDTSIndicator, oh.DTS = astits.PTSDTSIndicatorOnlyPTS, nil
	}
	af := &astits.PacketAdaptationField{RandomAccessIndicator: v.key, HasPCR: true,
		PCR: &astits.ClockReference{Base: ts90k(v.dts) - 9000}}
	_, err = f.mux.WriteData(&astits.MuxerData{PID: pidVideo, AdaptationField: af,
		PES: &astits.PESData{Header: &astits.PESHeader{OptionalHeader: oh, StreamID: 0xE0}, Data: data}})
	if err != nil {
		return fmt.Errorf("ts video: %w", err)
	}
	return nil
}

func (f *tsFormat) writeAudio(samples []*audioSample) error {
	if f.audio == nil || len(samples) == 0 {
		return nil
	}
	pkts := make(mpeg4audio.ADTSPackets, len(samples))
	for i, s := range samples {
		pkts[i] = &mpeg4audio.ADTSPacket{Type: f.audio.Type, SampleRate: f.audio.SampleRate,
			ChannelConfig: f.audio.ChannelConfig, ChannelCount: f.audio.ChannelCount, AU: s.au} //nolint:staticcheck
	}
	data, err := pkts.Marshal()
	if err != nil {
		return fmt.Errorf("adts: %w", err)
	}
	pts := ts90k(f.audioTime(samples[0]))
	af := &astits.PacketAdaptationField{RandomAccessIndicator: true}
	if f.audioOnly {
		// The PCR, as on video frames. No random access flag: on the PCR PID it would make the muxer repeat PAT and
		// PMT before every PES, and a segment starts with them anyway.
		af = &astits.PacketAdaptationField{HasPCR: true, PCR: &astits.ClockReference{Base: pts - 9000}}
	}
	_, err = f.mux.WriteData(&astits.MuxerData{PID: pidAudio, AdaptationField: af,
		PES: &astits.PESData{Header: &astits.PESHeader{StreamID: 0xC0, OptionalHeader: &astits.PESOptionalHeader{MarkerBits: 2,
			PTSDTSIndicator: astits.PTSDTSIndicatorOnlyPTS, PTS: &astits.ClockReference{Base: pts}}}, Data: data}})
	if err != nil {
		return fmt.Errorf("ts audio: %w", err)
	}
	return nil
}

func (f *tsFormat) writeID3(c cue) error {
	_, err := f.mux.WriteData(&astits.MuxerData{PID: pidID3, AdaptationField: &astits.PacketAdaptationField{RandomAccessIndicator: true},
		PES: &astits.PESData{Header: &astits.PESHeader{StreamID: 0xBD, OptionalHeader: &astits.PESOptionalHeader{MarkerBits: 2,
			PTSDTSIndicator: astits.PTSDTSIndicatorOnlyPTS, PTS: &astits.ClockReference{Base: ts90k(c.at)}}}, Data: c.tag}})
	if err != nil {
		return fmt.Errorf("ts id3: %w", err)
	}
	return nil
}
