package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// frame is one media message of the input, ready to send: the FLV tag's payload after its codec header, which is
// already what RTMP carries (AVCC length-prefixed NALUs for H.264, a raw AAC frame for audio).
type frame struct {
	video    bool
	key      bool
	dts      time.Duration // from the first tag of the file
	ptsDelta time.Duration // H.264 composition time offset
	payload  []byte
}

// media is an FLV file read into memory: the codec configuration and the frames in file (decode) order.
type media struct {
	sps, pps   []byte
	aac        *mpeg4audio.AudioSpecificConfig
	frames     []frame
	loop       time.Duration // the file's length: a second pass starts this much later
	bytes      int64         // payload bytes of one pass
	videoCount int
	audioCount int
	maxFrame   int
}

// bytesPerSecond is the average payload rate of the file.
func (m *media) bytesPerSecond() float64 { return float64(m.bytes) / m.loop.Seconds() }

// readFLV parses an FLV file with an H.264 video track (AVC sequence header first) and optionally an AAC audio
// track. Script data (onMetaData) is skipped: the RTMP writer sends its own.
func readFLV(path string) (*media, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, errors.New("not an FLV file")
	}
	hdr := int(binary.BigEndian.Uint32(b[5:9]))
	if hdr < 9 || hdr+4 > len(b) {
		return nil, errors.New("bad FLV header size")
	}
	m := &media{}
	pos := hdr + 4 // skip PreviousTagSize0
	var first, lastVideo, lastAudio time.Duration = -1, -1, -1
	var videoGap time.Duration
	for pos+11 <= len(b) {
		typ := b[pos] & 0x1f
		size := int(b[pos+1])<<16 | int(b[pos+2])<<8 | int(b[pos+3])
		ts := time.Duration(uint32(b[pos+7])<<24|uint32(b[pos+4])<<16|uint32(b[pos+5])<<8|uint32(b[pos+6])) * time.Millisecond
		data := pos + 11
		if data+size > len(b) {
			break // truncated last tag
		}
		d := b[data : data+size]
		pos = data + size + 4
		switch typ {
		case 9: // video
			if len(d) < 5 {
				continue
			}
			if d[0]&0x0f != 7 {
				return nil, fmt.Errorf("video codec id %d: only H.264 (7) is supported", d[0]&0x0f)
			}
			switch d[1] {
			case 0:
				if m.sps != nil {
					continue // repeated sequence header
				}
				if m.sps, m.pps, err = parseAVCConfig(d[5:]); err != nil {
					return nil, err
				}
				continue
			case 2:
				continue // end of sequence
			}
			if m.sps == nil {
				return nil, errors.New("H.264 frame before the AVC sequence header")
			}
			cts := int32(uint32(d[2])<<24|uint32(d[3])<<16|uint32(d[4])<<8) >> 8
			var au h264.AVCC
			if err := au.Unmarshal(d[5:]); err != nil {
				return nil, fmt.Errorf("H.264 frame at %v: %w", ts, err)
			}
			if first < 0 {
				first = ts
			}
			if lastVideo >= 0 && ts > lastVideo {
				videoGap = ts - lastVideo
			}
			lastVideo = ts
			m.frames = append(m.frames, frame{video: true, key: d[0]>>4 == 1, dts: ts,
				ptsDelta: time.Duration(cts) * time.Millisecond, payload: d[5:]})
			m.videoCount++
		case 8: // audio
			if len(d) < 2 {
				continue
			}
			if d[0]>>4 != 10 {
				return nil, fmt.Errorf("audio format %d: only AAC (10) is supported", d[0]>>4)
			}
			if d[1] == 0 {
				if m.aac == nil {
					m.aac = &mpeg4audio.AudioSpecificConfig{}
					if err := m.aac.Unmarshal(d[2:]); err != nil {
						return nil, fmt.Errorf("AAC config: %w", err)
					}
				}
				continue
			}
			if m.aac == nil {
				return nil, errors.New("AAC frame before the AAC sequence header")
			}
			if first < 0 {
				first = ts
			}
			lastAudio = ts
			m.frames = append(m.frames, frame{dts: ts, payload: d[2:]})
			m.audioCount++
		}
	}
	if m.videoCount == 0 {
		return nil, errors.New("no H.264 frames")
	}
	for i := range m.frames {
		m.frames[i].dts -= first
		m.bytes += int64(len(m.frames[i].payload))
		m.maxFrame = max(m.maxFrame, len(m.frames[i].payload))
	}
	if videoGap <= 0 {
		videoGap = 33 * time.Millisecond
	}
	m.loop = max(lastVideo+videoGap, lastAudio) - first
	if m.loop < time.Second {
		return nil, fmt.Errorf("the file is too short (%v)", m.loop)
	}
	return m, nil
}

// parseAVCConfig returns the first SPS and PPS of an AVCDecoderConfigurationRecord.
func parseAVCConfig(b []byte) (sps, pps []byte, err error) {
	bad := errors.New("bad AVC sequence header")
	if len(b) < 7 || b[0] != 1 {
		return nil, nil, bad
	}
	if b[4]&3 != 3 {
		return nil, nil, fmt.Errorf("AVC NALU length size %d: only 4 is supported", b[4]&3+1)
	}
	p := 5
	nsps := int(b[p] & 0x1f)
	p++
	for i := range nsps {
		if p+2 > len(b) {
			return nil, nil, bad
		}
		n := int(binary.BigEndian.Uint16(b[p:]))
		if p+2+n > len(b) {
			return nil, nil, bad
		}
		if i == 0 {
			sps = b[p+2 : p+2+n]
		}
		p += 2 + n
	}
	if p >= len(b) {
		return nil, nil, bad
	}
	npps := int(b[p])
	p++
	for i := range npps {
		if p+2 > len(b) {
			return nil, nil, bad
		}
		n := int(binary.BigEndian.Uint16(b[p:]))
		if p+2+n > len(b) {
			return nil, nil, bad
		}
		if i == 0 {
			pps = b[p+2 : p+2+n]
		}
		p += 2 + n
	}
	if len(sps) == 0 || len(pps) == 0 {
		return nil, nil, bad
	}
	return sps, pps, nil
}
