package transcode

import (
	"strings"
	"testing"

	"github.com/openivs/openivs/internal/hls"
)

func TestFilterGraph(t *testing.T) {
	sel := selectHalf
	cases := []struct {
		name  string
		cfg   Config
		rungs []Rung
		want  string
	}{
		{"standard 1080p60: the cap where the framerate drops", Config{}, Ladder("STANDARD", "", 1920, 1080, 60, true).Rungs,
			"[0:v]scale=1280:720,format=yuv420p,split=2[v0][c1];[c1]" + sel + ",scale=852:480,format=yuv420p,split=2[v1][c2];" +
				"[c2]scale=640:360,format=yuv420p,split=2[v2][c3];[c3]scale=284:160,format=yuv420p[v3]"},
		{"standard 1080p30: the cap first", Config{}, Ladder("STANDARD", "", 1920, 1080, 30, true).Rungs[2:],
			"[0:v]" + sel + ",scale=640:360,format=yuv420p,split=2[v0][c1];[c1]scale=284:160,format=yuv420p[v1]"},
		{"not ordered: each from the source", Config{}, []Rung{{Width: 284, Height: 160, FPS: 30}, {Width: 640, Height: 360, FPS: 60}},
			"[0:v]split=2[s0][s1];[s0]" + sel + ",scale=284:160,format=yuv420p[v0];[s1]scale=640:360,format=yuv420p[v1]"},
		{"vaapi uploads each rung", Config{VideoEncoder: "h264_vaapi"}, []Rung{{Width: 640, Height: 360, FPS: 30}, {Width: 284, Height: 160, FPS: 30}},
			"[0:v]" + sel + ",scale=640:360,format=yuv420p,split=2[t0][c1];[t0]format=nv12,hwupload[v0];" +
				"[c1]scale=284:160,format=yuv420p[t1];[t1]format=nv12,hwupload[v1]"},
	}
	for _, c := range cases {
		if got := filterGraph(c.cfg, c.rungs); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestFFmpegArgsAudioOnly: the audio-only rung is one more output of the same process, AAC alone on its own pipe,
// with the video rungs' muxer options; the filter graph scales the video rungs only.
func TestFFmpegArgsAudioOnly(t *testing.T) {
	plan := Ladder("ADVANCED_SD", "", 1920, 1080, 30, true)
	rungs := plan.Rungs[len(plan.Rungs)-2:] // 160p30, audio_only
	args := strings.Join(ffmpegArgs(Config{VideoEncoder: "libx264", Preset: "superfast"}, Source{Audio: &hls.AudioTrack{}}, rungs), " ")
	mux := "-f mpegts -muxdelay 0 -muxpreload 0 -flush_packets 1 -omit_video_pes_length 0 -mpegts_copyts 1"
	for _, want := range []string{
		"-filter_complex [0:v]" + selectHalf + ",scale=284:160,format=yuv420p[v0] -map [v0] ",
		"-map 0:a:0 -c:a aac -b:a 48000 " + mux + " pipe:3 -map 0:a:0 -c:a aac -b:a 64000 " + mux + " pipe:4",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("ffmpeg arguments\n%s\nwithout\n%s", args, want)
		}
	}
	if strings.Count(args, "-map [v") != 1 || !strings.HasSuffix(args, "pipe:4") {
		t.Errorf("ffmpeg arguments: %s", args)
	}
}
