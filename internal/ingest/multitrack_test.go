package ingest

import (
	"testing"

	"github.com/openivs/openivs/internal/live"
)

func TestMultitrackRefusal(t *testing.T) {
	v := func(h int) live.Video { return live.Video{Codec: "avc1.64001F", Width: h * 16 / 9, Height: h} }
	hevc := func(h int) live.Video { return live.Video{Codec: "hvc1.1.6.L93.B0", Width: h * 16 / 9, Height: h} }
	off := Multitrack{}
	allow := Multitrack{Enabled: true, Policy: "ALLOW", MaximumResolution: "HD"}
	require := Multitrack{Enabled: true, Policy: "REQUIRE", MaximumResolution: "FULL_HD"}
	for _, tc := range []struct {
		name  string
		m     Multitrack
		video []live.Video
		want  string
	}{
		{"single track, multitrack off", off, []live.Video{v(720)}, ""},
		{"two tracks, multitrack off", off, []live.Video{v(720), v(360)}, CodeMultitrackNotAllowed},
		{"single track, ALLOW", allow, []live.Video{v(720)}, ""},
		{"single track, REQUIRE", require, []live.Video{v(720)}, CodeMultitrackRequired},
		{"two tracks, REQUIRE", require, []live.Video{v(1080), v(480)}, ""},
		{"a track over HD", allow, []live.Video{v(1080), v(480)}, CodeMultitrackMediaProperties},
		{"portrait within HD", allow, []live.Video{{Width: 720, Height: 1280}, v(360)}, ""},
		{"six tracks", require, []live.Video{v(1080), v(720), v(480), v(360), v(240), v(160)}, CodeMultitrackTrackCount},
		{"HEVC, multitrack off", off, []live.Video{hevc(720)}, CodeMultitrackMediaProperties},
		{"HEVC, ALLOW", allow, []live.Video{hevc(720)}, ""},
		{"HEVC, REQUIRE with one track", require, []live.Video{hevc(720)}, CodeMultitrackRequired},
		{"two HEVC tracks, REQUIRE", require, []live.Video{hevc(1080), hevc(480)}, ""},
		{"two HEVC tracks, multitrack off", off, []live.Video{hevc(720), hevc(360)}, CodeMultitrackNotAllowed},
		{"H.264 and HEVC mixed", require, []live.Video{v(720), hevc(360)}, CodeMultitrackMediaProperties},
		{"HEVC over HD in multitrack", allow, []live.Video{hevc(1080), hevc(480)}, CodeMultitrackMediaProperties},
	} {
		got, why := multitrackRefusal(tc.m, tc.video)
		if got != tc.want || (got == "") != (why == "") {
			t.Errorf("%s: got %q (%q), want %q", tc.name, got, why, tc.want)
		}
	}
}
