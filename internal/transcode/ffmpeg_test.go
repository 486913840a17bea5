package transcode

import "testing"

func TestFilterGraph(t *testing.T) {
	sel := selectHalf
	cases := []struct {
		name  string
		cfg   Config
		rungs []Rung
		want  string
	}{
		{"standard 1080p60: the cap where the framerate drops", Config{}, Ladder("STANDARD", "", 1920, 1080, 60).Rungs,
			"[0:v]scale=1280:720,format=yuv420p,split=2[v0][c1];[c1]" + sel + ",scale=852:480,format=yuv420p,split=2[v1][c2];" +
				"[c2]scale=640:360,format=yuv420p,split=2[v2][c3];[c3]scale=284:160,format=yuv420p[v3]"},
		{"standard 1080p30: the cap first", Config{}, Ladder("STANDARD", "", 1920, 1080, 30).Rungs[2:],
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
