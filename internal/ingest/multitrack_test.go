package ingest

import (
	"testing"

	"github.com/openivs/openivs/internal/live"
)

func TestMultitrackRefusal(t *testing.T) {
	v := func(h int) live.Video { return live.Video{Width: h * 16 / 9, Height: h} }
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
	} {
		if got := multitrackRefusal(tc.m, tc.video); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
