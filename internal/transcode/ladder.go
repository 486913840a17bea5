package transcode

import "fmt"

// Plan is what a channel makes of a source: whether the source itself is a rendition, and the transcoded rungs,
// the video rungs highest first, then the audio-only rung when there is one (ADVANCED types, a source with audio).
type Plan struct {
	Source bool
	Rungs  []Rung
}

// Rung is one transcoded rendition. The audio-only rung (AudioOnly) has no video: Width, Height, FPS and
// VideoBitrate are 0, and AudioBitrate is its AAC rate.
type Rung struct {
	Name          string // IVS's group id: "720p60", "720p30", "480p30", "360p30", "160p30", "audio_only"
	Width, Height int    // 1280x720, 852x480, 640x360, 284x160 for 16:9 sources; other aspect ratios: height kept, width from the source's aspect, even
	FPS           int    // 30 or 60: a cap, the rung never has more frames than the source
	VideoBitrate  int64  // bits per second (the documented figure)
	AudioBitrate  int64  // 0: the source's audio is copied (passthrough); else AAC at this rate
}

// AudioOnly tells whether the rung is the audio-only rendition (no video).
func (r Rung) AudioOnly() bool { return r.Width == 0 && r.Height == 0 && r.VideoBitrate == 0 }

// AudioOnlyName is the audio-only rendition's group id and name in IVS's multivariant playlists.
const AudioOnlyName = "audio_only"

// audioOnly is ADVANCED's audio-only rung: 64 kbps AAC (both presets).
var audioOnly = Rung{Name: AudioOnlyName, AudioBitrate: 64_000}

// Channel types and transcode presets (ivsapi.ChannelType, ivsapi.TranscodePreset).
const (
	TypeBasic       = "BASIC"
	TypeStandard    = "STANDARD"
	TypeAdvancedSD  = "ADVANCED_SD"
	TypeAdvancedHD  = "ADVANCED_HD"
	PresetHigher    = "HIGHER_BANDWIDTH_DELIVERY"
	PresetConstrain = "CONSTRAINED_BANDWIDTH_DELIVERY"
)

// highFPS is the framerate from which a source counts as a 60 fps input (IVS documents only 30 and 60 fps input
// classes): a 48 or 50 fps source gets the 60 fps class, 24, 25 and 30 fps (and a measured 31.5) the 30 fps one.
const highFPS = 40

// rungDef is a row of 7.5's tables: the nominal (16:9 landscape) size and the bitrates.
type rungDef struct {
	lines, width int // the short edge ("720" of 720p) and the 16:9 long edge
	video, audio int64
}

// Ladder returns IVS's ladder for a channel type ("BASIC", "STANDARD", "ADVANCED_SD", "ADVANCED_HD"; "" is
// STANDARD, the API's default; an unknown type is treated like BASIC), its preset ("",
// "HIGHER_BANDWIDTH_DELIVERY", "CONSTRAINED_BANDWIDTH_DELIVERY"; "" on an ADVANCED type is HIGHER, the API's
// default; STANDARD ignores it), the source's size and framerate (0 when unknown: taken as 30) and whether the
// source has audio. It never up-converts. ADVANCED plans end with the audio-only rung (64 kbps AAC, named
// "audio_only") when the source has audio; STANDARD and BASIC have none. It follows ivs-reference.md 7.5, and for
// the inputs the documentation leaves open:
//
//   - The input class is decided by the source's short edge, so a portrait 1080x1920 source is a 1080p input; its
//     rungs are portrait too (720x1280 for "720p30"). The rung keeps IVS's name ("<short edge>p<fps>").
//   - Sizes: a 16:9 source (either orientation) gets 7.5's sizes (852x480, 284x160, which are not exactly 16:9);
//     any other aspect ratio keeps the rung's short edge and derives the long edge from the source's aspect,
//     rounded to an even number.
//   - Framerate: 60 fps rungs exist only for sources of at least 40 fps (so 48 and 50 fps sources are "60" inputs;
//     their 720p60 rung carries the source's 50 fps: FPS is a cap). 24, 25 and 30 fps sources are 30 fps inputs.
//   - STANDARD below 480p (not documented): the source is a rendition (passed through, as BASIC would) and the
//     rungs strictly below the source's short edge are added (a 360p source: source + 160p30; below 160p: the
//     source alone).
//   - ADVANCED below 480p (not documented): the documented rungs at or below the source's short edge, and when
//     none equals it, a "source transcoded" rung at the source's size topping the ladder, with the bitrates of
//     the smallest documented rung above it (as 7.5 does for ADVANCED_HD's 480p-720p class, whose source
//     transcoded rung has the 720p30 bitrates). The "source transcoded" rung is 30 fps (its framerate is
//     unconfirmed) and named "<short edge>p30".
func Ladder(channelType, preset string, width, height int, fps float64, audio bool) Plan {
	if width <= 0 || height <= 0 {
		return Plan{Source: true}
	}
	lines := min(width, height)
	high := fps >= highFPS
	constrained := preset == PresetConstrain
	switch channelType {
	case TypeStandard, "":
		return standard(width, height, lines, high)
	case TypeAdvancedHD, TypeAdvancedSD:
		p := advanced(width, height, lines, high, constrained, channelType == TypeAdvancedHD)
		if audio {
			p.Rungs = append(p.Rungs, audioOnly)
		}
		return p
	default: // BASIC, or a type this version does not know: transmux only
		return Plan{Source: true}
	}
}

// STANDARD's rungs (its single preset): audio passthrough above 360p.
var (
	std720p60 = rungDef{720, 1280, 3_400_000, 0}
	std720p30 = rungDef{720, 1280, 2_400_000, 0}
	stdLower  = []rungDef{{480, 852, 1_400_000, 0}, {360, 640, 630_000, 64_000}, {160, 284, 230_000, 48_000}}
)

func standard(w, h, lines int, high bool) Plan {
	var p Plan
	switch {
	case lines >= 720:
		// >720p: the source is a rendition; exactly 720p: no source rung, the 720p rung is re-encoded.
		p.Source = lines > 720
		if high {
			p.Rungs = append(p.Rungs, makeRung(std720p60, 60, w, h))
		} else {
			p.Rungs = append(p.Rungs, makeRung(std720p30, 30, w, h))
		}
		p.Rungs = appendLower(p.Rungs, stdLower, w, h, lines, true)
	case lines >= 480:
		p.Rungs = appendLower(nil, stdLower, w, h, lines, true)
	default:
		p.Source = true
		p.Rungs = appendLower(nil, stdLower, w, h, lines, false)
	}
	return p
}

// ADVANCED rungs: HIGHER_BANDWIDTH_DELIVERY and CONSTRAINED_BANDWIDTH_DELIVERY bitrates.
var (
	adv720p60 = [2]rungDef{{720, 1280, 3_000_000, 128_000}, {720, 1280, 2_200_000, 128_000}}
	adv720p30 = [2]rungDef{{720, 1280, 2_300_000, 128_000}, {720, 1280, 1_900_000, 128_000}}
	advLower  = [2][]rungDef{
		{{480, 852, 1_300_000, 128_000}, {360, 640, 700_000, 64_000}, {160, 284, 270_000, 48_000}},
		{{480, 852, 800_000, 128_000}, {360, 640, 400_000, 64_000}, {160, 284, 220_000, 48_000}},
	}
)

func advanced(w, h, lines int, high, constrained, hd bool) Plan {
	pi := 0
	if constrained {
		pi = 1
	}
	var rungs []Rung
	lower := advLower[pi]
	above := adv720p30[pi] // the bitrates of a "source transcoded" rung: the smallest documented rung above it
	switch {
	case hd && lines >= 720:
		if high {
			rungs = append(rungs, makeRung(adv720p60[pi], 60, w, h))
		} else {
			rungs = append(rungs, makeRung(adv720p30[pi], 30, w, h))
		}
	case !hd && lines >= 480, lines == 480:
		// ADVANCED_SD: one input class, 480p up to 1080p, capped at 480p. ADVANCED_HD 480p: the lower rungs.
	default:
		// Between documented rungs (ADVANCED_HD 480p-720p, and both types below 480p): the source transcoded.
		for _, d := range lower {
			if d.lines > lines {
				above = d
			}
		}
		if !hasLines(lower, lines) {
			rungs = append(rungs, sourceTranscoded(above, w, h, lines))
		}
	}
	return Plan{Rungs: appendLower(rungs, lower, w, h, lines, true)}
}

func hasLines(defs []rungDef, lines int) bool {
	for _, d := range defs {
		if d.lines == lines {
			return true
		}
	}
	return false
}

// sourceTranscoded is ADVANCED_HD's "Source transcoded" rung: the source's size, the bitrates of def.
func sourceTranscoded(def rungDef, w, h, lines int) Rung {
	return Rung{Name: fmt.Sprintf("%dp30", lines), Width: w &^ 1, Height: h &^ 1, FPS: 30,
		VideoBitrate: def.video, AudioBitrate: def.audio}
}

// appendLower appends the 30 fps rungs of defs whose short edge is at most the source's (inclusive) or below it.
func appendLower(rungs []Rung, defs []rungDef, w, h, lines int, inclusive bool) []Rung {
	for _, d := range defs {
		if d.lines < lines || inclusive && d.lines == lines {
			rungs = append(rungs, makeRung(d, 30, w, h))
		}
	}
	return rungs
}

// makeRung sizes a rung for a w x h source: 7.5's sizes for 16:9 (either orientation); otherwise the short edge
// kept and the long edge from the source's aspect ratio, even.
func makeRung(d rungDef, fps, w, h int) Rung {
	long := d.width
	if w*9 != h*16 && h*9 != w*16 {
		long = (d.lines*max(w, h)/min(w, h) + 1) &^ 1
	}
	r := Rung{Name: fmt.Sprintf("%dp%d", d.lines, fps), Width: long, Height: d.lines, FPS: fps,
		VideoBitrate: d.video, AudioBitrate: d.audio}
	if h > w {
		r.Width, r.Height = r.Height, r.Width
	}
	return r
}
