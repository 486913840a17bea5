package ingest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/live"
)

// describeVideo describes a video track from its parameter sets (H.264: SPS and PPS; HEVC: VPS, SPS and PPS): what
// the stream session reports and what the packager needs. track is the track's index among the video tracks.
func describeVideo(kind hls.VideoCodec, vps, sps, pps []byte, encoder string, track int) (live.Video, hls.VideoTrack, error) {
	var v live.Video
	switch kind {
	case hls.H264:
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			return live.Video{}, hls.VideoTrack{}, fmt.Errorf("invalid H.264 SPS: %w", err)
		}
		v = live.Video{Codec: fmt.Sprintf("avc1.%02X%02X%02X", s.ProfileIdc, spsConstraints(sps), s.LevelIdc),
			Profile: h264ProfileName(s.ProfileIdc), Level: fmt.Sprintf("%d.%d", s.LevelIdc/10, s.LevelIdc%10),
			Width: s.Width(), Height: s.Height(), Framerate: s.FPS()}
	case hls.H265:
		var err error
		if v, err = hevcVideo(sps); err != nil {
			return live.Video{}, hls.VideoTrack{}, err
		}
	default:
		return live.Video{}, hls.VideoTrack{}, fmt.Errorf("video codec %d is not accepted", kind)
	}
	v.Encoder, v.Track = encoder, fmt.Sprintf("Track%d", track)
	return v, hls.VideoTrack{Kind: kind, VPS: vps, SPS: sps, PPS: pps, Codec: v.Codec, Width: v.Width, Height: v.Height}, nil
}

// spsConstraints is the constraint-flags byte of an SPS (the second byte of the RFC 6381 avc1 string).
func spsConstraints(sps []byte) byte {
	if len(sps) < 3 {
		return 0
	}
	return sps[2]
}

func h264ProfileName(idc uint8) string {
	switch idc {
	case 66:
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		return "High 10"
	case 122:
		return "High 4:2:2"
	case 244:
		return "High 4:4:4"
	}
	return fmt.Sprintf("Profile %d", idc)
}

// hevcVideo describes an HEVC track from its SPS: size and framerate (mediacommon's parser), profile, level and the
// RFC 6381 codec string.
func hevcVideo(sps []byte) (live.Video, error) {
	var s h265.SPS
	if err := s.Unmarshal(sps); err != nil {
		return live.Video{}, fmt.Errorf("invalid HEVC SPS: %w", err)
	}
	codec, err := hevcCodec(sps)
	if err != nil {
		return live.Video{}, err
	}
	ptl := s.ProfileTierLevel
	level := int(ptl.GeneralLevelIdc)
	return live.Video{Codec: codec, Profile: hevcProfileName(ptl.GeneralProfileIdc, ptl.GeneralProfileCompatibilityFlag),
		Level: fmt.Sprintf("%d.%d", level/30, level%30/3), Width: s.Width(), Height: s.Height(), Framerate: s.FPS()}, nil
}

// hevcCodec is the RFC 6381 codec string of an HEVC SPS NAL unit, as ISO/IEC 14496-15 Annex E defines it for
// hvc1: hvc1.<profile space letter><profile idc>.<the 32 compatibility flags, bit-reversed, in hex>.<tier L or
// H><level idc>.<the six constraint-indicator bytes in hex, trailing zero bytes left out>, e.g. hvc1.1.6.L93.B0.
// The fields are read from the SPS's profile_tier_level, which starts at the same byte in every SPS.
func hevcCodec(sps []byte) (string, error) {
	if len(sps) < 2 || h265.NALUType((sps[0]>>1)&0x3f) != h265.NALUType_SPS_NUT {
		return "", errors.New("invalid HEVC SPS: not an SPS NAL unit")
	}
	// NAL header (2 bytes), vps id / max sub-layers / temporal id nesting (1 byte), then profile_tier_level:
	// profile space, tier and profile idc (1), compatibility flags (4), constraint indicators (6), level idc (1).
	rbsp := h264.EmulationPreventionRemove(sps)
	if len(rbsp) < 15 {
		return "", errors.New("invalid HEVC SPS: too short for profile_tier_level")
	}
	ptl := rbsp[3:15]
	var b strings.Builder
	b.WriteString("hvc1.")
	if space := ptl[0] >> 6; space > 0 {
		b.WriteByte('A' + space - 1)
	}
	fmt.Fprintf(&b, "%d.", ptl[0]&0x1f)
	compat := uint32(ptl[1])<<24 | uint32(ptl[2])<<16 | uint32(ptl[3])<<8 | uint32(ptl[4])
	var reversed uint32
	for i := 0; i < 32; i++ {
		if compat&(1<<i) != 0 {
			reversed |= 1 << (31 - i)
		}
	}
	fmt.Fprintf(&b, "%X.", reversed)
	tier := byte('L')
	if ptl[0]&0x20 != 0 {
		tier = 'H'
	}
	fmt.Fprintf(&b, "%c%d", tier, ptl[11])
	constraints := ptl[5:11]
	n := len(constraints)
	for n > 0 && constraints[n-1] == 0 {
		n--
	}
	for _, c := range constraints[:n] {
		fmt.Fprintf(&b, ".%X", c)
	}
	return b.String(), nil
}

// hevcProfileName names general_profile_idc as the H.265 specification does (Annex A); a profile idc of 0 is
// named from the first compatibility flag set.
func hevcProfileName(idc uint8, compat [32]bool) string {
	if idc == 0 {
		for j := 1; j < 32; j++ {
			if compat[j] {
				idc = uint8(j)
				break
			}
		}
	}
	switch idc {
	case 1:
		return "Main"
	case 2:
		return "Main 10"
	case 3:
		return "Main Still Picture"
	case 4:
		return "Format Range Extensions"
	case 5:
		return "High Throughput"
	case 6:
		return "Multiview Main"
	case 7:
		return "Scalable Main"
	case 8:
		return "3D Main"
	case 9:
		return "Screen Content Coding Extensions"
	case 10:
		return "Scalable Format Range Extensions"
	case 11:
		return "High Throughput Screen Content Coding Extensions"
	}
	return fmt.Sprintf("Profile %d", idc)
}

// hevcParams picks the VPS, SPS and PPS out of an HEVC access unit (nil when absent).
func hevcParams(au [][]byte) (vps, sps, pps []byte) {
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		}
	}
	return vps, sps, pps
}

// h264Params picks the SPS and PPS out of an H.264 access unit (nil when absent).
func h264Params(au [][]byte) (sps, pps []byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	return sps, pps
}
