package transcode

import (
	"fmt"
	"strings"
	"testing"
)

// show renders a plan compactly: "src 720p60 1280x720 3400k/- 480p30 852x480 1400k/- ..." (audio "-" is passthrough;
// the audio-only rung is "audio_only 64k").
func show(p Plan) string {
	var b strings.Builder
	if p.Source {
		b.WriteString("src")
	}
	for _, r := range p.Rungs {
		if r.AudioOnly() {
			fmt.Fprintf(&b, " %s %dk", r.Name, r.AudioBitrate/1000)
			continue
		}
		a := "-"
		if r.AudioBitrate > 0 {
			a = fmt.Sprintf("%dk", r.AudioBitrate/1000)
		}
		fmt.Fprintf(&b, " %s %dx%d@%d %dk/%s", r.Name, r.Width, r.Height, r.FPS, r.VideoBitrate/1000, a)
	}
	return strings.TrimSpace(b.String())
}

func TestLadder(t *testing.T) {
	const (
		std720p60 = "720p60 1280x720@60 3400k/-"
		std720p30 = "720p30 1280x720@30 2400k/-"
		stdLower  = "480p30 852x480@30 1400k/- 360p30 640x360@30 630k/64k 160p30 284x160@30 230k/48k"

		hdHi720p60 = "720p60 1280x720@60 3000k/128k"
		hdHi720p30 = "720p30 1280x720@30 2300k/128k"
		hdLo720p60 = "720p60 1280x720@60 2200k/128k"
		hdLo720p30 = "720p30 1280x720@30 1900k/128k"
		advHiLower = "480p30 852x480@30 1300k/128k 360p30 640x360@30 700k/64k 160p30 284x160@30 270k/48k"
		advLoLower = "480p30 852x480@30 800k/128k 360p30 640x360@30 400k/64k 160p30 284x160@30 220k/48k"
		audioOnly  = " audio_only 64k" // ADVANCED's audio-only rung, last, for sources with audio
	)
	const (
		hi = "HIGHER_BANDWIDTH_DELIVERY"
		lo = "CONSTRAINED_BANDWIDTH_DELIVERY"
	)
	cases := []struct {
		typ, preset string
		w, h        int
		fps         float64
		want        string
	}{
		// BASIC: the source only.
		{"BASIC", "", 1920, 1080, 60, "src"},
		{"BASIC", "", 852, 480, 30, "src"},

		// STANDARD, 7.5's five input classes.
		{"STANDARD", "", 1920, 1080, 60, "src " + std720p60 + " " + stdLower},
		{"STANDARD", "", 1600, 900, 60, "src " + std720p60 + " " + stdLower}, // >720p60 and <1080p60
		{"STANDARD", "", 1920, 1080, 30, "src " + std720p30 + " " + stdLower},
		{"STANDARD", "", 1600, 900, 30, "src " + std720p30 + " " + stdLower}, // >720p30 and <1080p30
		{"STANDARD", "", 1280, 720, 60, std720p60 + " " + stdLower},          // no source rung: 720p re-encoded
		{"STANDARD", "", 1280, 720, 30, std720p30 + " " + stdLower},
		{"STANDARD", "", 852, 480, 30, stdLower}, // >=480p and <720p, 30 and 60
		{"STANDARD", "", 852, 480, 60, stdLower},
		{"STANDARD", "", 960, 540, 30, stdLower},
		{"STANDARD", "", 1138, 640, 60, "480p30 854x480@30 1400k/- 360p30 640x360@30 630k/64k 160p30 284x160@30 230k/48k"},
		{"", "", 1920, 1080, 30, "src " + std720p30 + " " + stdLower}, // the API's default type
		{"STANDARD", hi, 1920, 1080, 30, "src " + std720p30 + " " + stdLower},

		// ADVANCED_HD, both presets, its four input classes.
		{"ADVANCED_HD", hi, 1920, 1080, 60, hdHi720p60 + " " + advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 1280, 720, 60, hdHi720p60 + " " + advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 1920, 1080, 30, hdHi720p30 + " " + advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 1280, 720, 30, hdHi720p30 + " " + advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 960, 540, 30, "540p30 960x540@30 2300k/128k " + advHiLower + audioOnly}, // source transcoded
		{"ADVANCED_HD", hi, 960, 540, 60, "540p30 960x540@30 2300k/128k " + advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 852, 480, 30, advHiLower + audioOnly},
		{"ADVANCED_HD", hi, 852, 480, 60, advHiLower + audioOnly},
		{"ADVANCED_HD", "", 1920, 1080, 60, hdHi720p60 + " " + advHiLower + audioOnly}, // HIGHER is the default
		{"ADVANCED_HD", lo, 1920, 1080, 60, hdLo720p60 + " " + advLoLower + audioOnly},
		{"ADVANCED_HD", lo, 1280, 720, 60, hdLo720p60 + " " + advLoLower + audioOnly},
		{"ADVANCED_HD", lo, 1920, 1080, 30, hdLo720p30 + " " + advLoLower + audioOnly},
		{"ADVANCED_HD", lo, 1280, 720, 30, hdLo720p30 + " " + advLoLower + audioOnly},
		{"ADVANCED_HD", lo, 960, 540, 30, "540p30 960x540@30 1900k/128k " + advLoLower + audioOnly},
		{"ADVANCED_HD", lo, 852, 480, 60, advLoLower + audioOnly},

		// ADVANCED_SD: one input class (480p to 1080p), both presets.
		{"ADVANCED_SD", hi, 1920, 1080, 60, advHiLower + audioOnly},
		{"ADVANCED_SD", hi, 1280, 720, 30, advHiLower + audioOnly},
		{"ADVANCED_SD", hi, 852, 480, 30, advHiLower + audioOnly},
		{"ADVANCED_SD", "", 1920, 1080, 30, advHiLower + audioOnly},
		{"ADVANCED_SD", lo, 1920, 1080, 60, advLoLower + audioOnly},
		{"ADVANCED_SD", lo, 852, 480, 30, advLoLower + audioOnly},

		// Undocumented inputs (our choices, see Ladder's comment).
		{"STANDARD", "", 640, 360, 30, "src 160p30 284x160@30 230k/48k"},
		{"STANDARD", "", 426, 240, 30, "src 160p30 284x160@30 230k/48k"},
		{"STANDARD", "", 256, 144, 30, "src"},
		{"ADVANCED_HD", hi, 640, 360, 30, "360p30 640x360@30 700k/64k 160p30 284x160@30 270k/48k" + audioOnly},
		{"ADVANCED_SD", lo, 426, 240, 30, "240p30 426x240@30 400k/64k 160p30 284x160@30 220k/48k" + audioOnly},
		{"ADVANCED_SD", hi, 256, 144, 30, "144p30 256x144@30 270k/48k" + audioOnly},
		{"STANDARD", "", 1080, 1920, 30, "src 720p30 720x1280@30 2400k/- 480p30 480x852@30 1400k/- " +
			"360p30 360x640@30 630k/64k 160p30 160x284@30 230k/48k"}, // portrait
		{"STANDARD", "", 1440, 1080, 30, "src 720p30 960x720@30 2400k/- 480p30 640x480@30 1400k/- " +
			"360p30 480x360@30 630k/64k 160p30 214x160@30 230k/48k"}, // 4:3
		{"STANDARD", "", 1920, 1080, 50, "src " + std720p60 + " " + stdLower},
		{"STANDARD", "", 1920, 1080, 25, "src " + std720p30 + " " + stdLower},
		{"STANDARD", "", 1920, 1080, 0, "src " + std720p30 + " " + stdLower},
		{"STANDARD", "", 0, 0, 30, "src"},
		{"SOMETHING_NEW", "", 1920, 1080, 30, "src"},
	}
	for _, c := range cases {
		got := show(Ladder(c.typ, c.preset, c.w, c.h, c.fps, true))
		if got != c.want {
			t.Errorf("Ladder(%q, %q, %dx%d, %v, audio):\n got %s\nwant %s", c.typ, c.preset, c.w, c.h, c.fps, got, c.want)
		}
		// A source without audio: the same video rungs, no audio-only rung.
		want := strings.TrimSuffix(c.want, audioOnly)
		if got := show(Ladder(c.typ, c.preset, c.w, c.h, c.fps, false)); got != want {
			t.Errorf("Ladder(%q, %q, %dx%d, %v, no audio):\n got %s\nwant %s", c.typ, c.preset, c.w, c.h, c.fps, got, want)
		}
	}
}

// TestLadderNeverUpConverts checks every rung of every plan for inputs on a grid of sizes and framerates.
func TestLadderNeverUpConverts(t *testing.T) {
	for _, typ := range []string{"BASIC", "STANDARD", "ADVANCED_SD", "ADVANCED_HD"} {
		for _, preset := range []string{"", "HIGHER_BANDWIDTH_DELIVERY", "CONSTRAINED_BANDWIDTH_DELIVERY"} {
			for h := 100; h <= 1080; h += 20 {
				for _, aspect := range []float64{16.0 / 9, 4.0 / 3, 9.0 / 16, 1, 21.0 / 9} {
					w := int(float64(h)*aspect) &^ 1
					for _, fps := range []float64{24, 25, 30, 50, 60} {
						p := Ladder(typ, preset, w, h, fps, true)
						if !p.Source && len(p.Rungs) == 0 {
							t.Fatalf("%s %dx%d: no rendition", typ, w, h)
						}
						for i, r := range p.Rungs {
							if r.AudioOnly() {
								if i != len(p.Rungs)-1 || i == 0 || typ != "ADVANCED_SD" && typ != "ADVANCED_HD" || r.AudioBitrate != 64_000 {
									t.Fatalf("%s %s %dx%d@%v: audio-only rung %+v at %d of %d", typ, preset, w, h, fps, r, i, len(p.Rungs))
								}
								continue
							}
							if r.Width > w || r.Height > h || r.Width%2 != 0 || r.Height%2 != 0 || r.FPS == 60 && fps < 40 {
								t.Fatalf("%s %s %dx%d@%v: rung %+v", typ, preset, w, h, fps, r)
							}
						}
					}
				}
			}
		}
	}
}
