package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// encodeHEVC encodes one frame of testsrc2 with ffmpeg's libx265 and returns the raw HEVC stream.
func encodeHEVC(t *testing.T, size, pixFmt, x265Params string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "v.hevc")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-frames:v", "1", "-pix_fmt", pixFmt, "-c:v", "libx265", "-x265-params", "log-level=error:"+x265Params, "-f", "hevc", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// traceLine is one syntax element of ffmpeg's trace_headers output: "<bit offset> <name> <bits> = <value>".
var traceLine = regexp.MustCompile(`\]\s+\d+\s+(\S+)\s+([01]+) = (\d+)$`)

// ffmpegHEVCCodec builds the expected hvc1 codec string of a raw HEVC stream from the SPS syntax elements ffmpeg's
// own parser reports (the trace_headers bitstream filter), following ISO/IEC 14496-15 Annex E.
func ffmpegHEVCCodec(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "trace", "-i", file, "-c", "copy", "-bsf:v", "trace_headers",
		"-frames:v", "1", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg trace_headers: %v", err)
	}
	var (
		inSPS, inConstraints bool
		space, tier, idc     int
		level                = -1
		compat               uint32
		constraintBits       string
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "[trace_headers") {
			continue
		}
		if strings.HasSuffix(line, "Parameter Set") {
			inSPS = strings.HasSuffix(line, "Sequence Parameter Set")
			continue
		}
		m := traceLine.FindStringSubmatch(line)
		if !inSPS || m == nil || level >= 0 {
			continue
		}
		v, _ := strconv.Atoi(m[3])
		name := m[1]
		switch {
		case name == "general_profile_space":
			space = v
		case name == "general_tier_flag":
			tier = v
		case name == "general_profile_idc":
			idc = v
		case strings.HasPrefix(name, "general_profile_compatibility_flag["):
			j, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "general_profile_compatibility_flag["), "]"))
			if v == 1 {
				compat |= 1 << j // the string's field is the flags in reverse bit order: flag j is bit j
			}
		case name == "general_progressive_source_flag":
			inConstraints = true
			constraintBits += m[2]
		case name == "general_level_idc":
			level = v
		case inConstraints:
			constraintBits += m[2]
		}
	}
	if level < 0 || len(constraintBits) != 48 {
		t.Fatalf("ffmpeg's trace has no complete SPS profile_tier_level (%d constraint bits):\n%s", len(constraintBits), out)
	}
	s := "hvc1." + map[int]string{0: "", 1: "A", 2: "B", 3: "C"}[space] + strconv.Itoa(idc) + "." + strings.ToUpper(strconv.FormatUint(uint64(compat), 16)) +
		"." + map[int]string{0: "L", 1: "H"}[tier] + strconv.Itoa(level)
	var constraints []string
	for i := 0; i < 48; i += 8 {
		b, _ := strconv.ParseUint(constraintBits[i:i+8], 2, 8)
		constraints = append(constraints, strings.ToUpper(strconv.FormatUint(b, 16)))
	}
	for len(constraints) > 0 && constraints[len(constraints)-1] == "0" {
		constraints = constraints[:len(constraints)-1]
	}
	for _, b := range constraints {
		s += "." + b
	}
	return s
}

// TestHEVCVideoMatchesFFmpeg: the codec string, profile, level and size read from x265 streams of several
// profiles and tiers match what ffmpeg's parsers report for the same streams.
func TestHEVCVideoMatchesFFmpeg(t *testing.T) {
	for _, tc := range []struct {
		name, size, pixFmt, params string
		profile, level, codec      string
	}{
		{"Main", "192x108", "yuv420p", "profile=main", "Main", "", ""},
		{"Main 10", "320x240", "yuv420p10le", "profile=main10", "Main 10", "", ""},
		{"Main 4:4:4 (range extensions)", "320x240", "yuv444p", "profile=main444-8", "Format Range Extensions", "", ""},
		{"Main, high tier level 5.1", "640x360", "yuv420p", "profile=main:high-tier=1:level-idc=51", "Main", "5.1", "hvc1.1.6.H153.90"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := encodeHEVC(t, tc.size, tc.pixFmt, tc.params)
			file := filepath.Join(t.TempDir(), "v.hevc")
			os.WriteFile(file, raw, 0o644)
			var nalus h264.AnnexB
			if err := nalus.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			_, sps, _ := hevcParams(nalus)
			if sps == nil {
				t.Fatal("no SPS in the x265 stream")
			}
			v, err := hevcVideo(sps)
			if err != nil {
				t.Fatal(err)
			}
			want := ffmpegHEVCCodec(t, file)
			t.Logf("%s from ffmpeg; described %+v", want, v)
			if v.Codec != want || (tc.codec != "" && v.Codec != tc.codec) {
				t.Errorf("codec %s, ffmpeg's SPS says %s (want %q)", v.Codec, want, tc.codec)
			}
			probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=width,height,level", "-of", "csv=p=0", file).Output()
			if err != nil {
				t.Fatal(err)
			}
			var w, h, level int
			fmt.Sscanf(strings.TrimSpace(string(probe)), "%d,%d,%d", &w, &h, &level)
			wantLevel := fmt.Sprintf("%d.%d", level/30, level%30/3)
			if v.Width != w || v.Height != h || v.Level != wantLevel || (tc.level != "" && v.Level != tc.level) || v.Profile != tc.profile {
				t.Errorf("described %+v; ffprobe %dx%d level_idc %d, want profile %s", v, w, h, level, tc.profile)
			}
		})
	}
}

func TestHEVCCodecString(t *testing.T) {
	// An SPS whose profile_tier_level needs emulation prevention: constraint bytes 00 00 00 00 would read 00 00 03 00
	// in the NAL unit.
	sps := []byte{0x42, 0x01, 0x01, 0x61, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d}
	got, err := hevcCodec(sps)
	if err != nil || got != "hvc1.A1.6.H93.90" {
		t.Fatalf("hevcCodec: %q %v, want hvc1.A1.6.H93.90", got, err)
	}
	for _, bad := range [][]byte{nil, {0x42}, {0x40, 0x01, 0x01}, sps[:10]} {
		if _, err := hevcCodec(bad); err == nil {
			t.Errorf("hevcCodec(% x) accepted", bad)
		}
	}
}

// FuzzHEVCSPS: any bytes as an HEVC SPS (from an encoder, through Enhanced RTMP or MPEG-TS) give a description or
// an error, never a panic, and a well-formed codec string.
func FuzzHEVCSPS(f *testing.F) {
	f.Add([]byte{0x42, 0x01, 0x01, 0x61, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d})
	f.Add([]byte{0x42, 0x01})
	well := regexp.MustCompile(`^hvc1\.[ABC]?\d+\.[0-9A-F]+\.[LH]\d+(\.[0-9A-F]{1,2}){0,6}$`)
	f.Fuzz(func(t *testing.T, sps []byte) {
		if c, err := hevcCodec(sps); err == nil && !well.MatchString(c) {
			t.Fatalf("malformed codec string %q", c)
		}
		if v, err := hevcVideo(sps); err == nil && !well.MatchString(v.Codec) {
			t.Fatalf("malformed codec string %q", v.Codec)
		}
	})
}
