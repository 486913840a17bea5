package transcode

import (
	"fmt"
	"strconv"
	"strings"
)

// selectHalf keeps the frames of a rung capped at 30 fps from a faster source: every keyframe (so the rung's
// keyframes stay the source's), and every frame at least 25 ms (3/4 of a 30 fps frame) after the last one kept:
// every other frame of a 50 or 60 fps source, every frame of a source at up to 40 fps. Unlike the fps filter it keeps
// the source's own timestamps, so every frame of the rung has the pts of a source frame.
const selectHalf = "select=expr=key+isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.025)"

// ffmpegArgs is the command line of a session's ffmpeg: the source as MPEG-TS on stdin, decoded once, scaled per
// video rung, each rung's MPEG-TS (video, and its audio: copied or AAC; the audio-only rung: AAC alone) on its own
// pipe (fd 3, 4, ...), timestamps kept (-copyts, no mux delay), keyframes where the source has them.
func ffmpegArgs(cfg Config, src Source, rungs []Rung) []string {
	a := []string{"-hide_banner", "-nostats", "-nostdin", "-loglevel", "error",
		// Start quickly: the parameters are in the first keyframe (the feeder starts with one).
		// (No -fflags nobuffer: it discards the packets read while probing, the first keyframe among them.)
		// probesize leaves room for a large 1080p keyframe at 8.5 Mbps; analysis stops at half a second of media.
		"-probesize", "5000000", "-analyzeduration", "500000",
	}
	if cfg.VideoEncoder == "h264_vaapi" {
		a = append(a, "-init_hw_device", "vaapi=va:"+cfg.VAAPIDevice, "-filter_hw_device", "va")
	}
	a = append(a, "-f", "mpegts", "-copyts", "-i", "pipe:0")
	a = append(a, "-filter_complex", filterGraph(cfg, videoRungs(rungs)))
	v := 0 // the video rungs' outputs of the filter graph: [v0], [v1]...
	for i, r := range rungs {
		if !r.AudioOnly() {
			a = append(a, "-map", fmt.Sprintf("[v%d]", v))
			v++
			a = append(a, videoArgs(cfg, r)...)
			// The encoder's clock is the input's 90 kHz: every output pts is exactly a source pts.
			a = append(a, "-fps_mode:v", "passthrough", "-enc_time_base:v", "1:90000")
		}
		if src.Audio != nil {
			a = append(a, "-map", "0:a:0")
			if r.AudioBitrate == 0 {
				a = append(a, "-c:a", "copy")
			} else {
				a = append(a, "-c:a", "aac", "-b:a", strconv.FormatInt(r.AudioBitrate, 10))
			}
		}
		a = append(a, "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1",
			"-omit_video_pes_length", "0", "-mpegts_copyts", "1", fmt.Sprintf("pipe:%d", 3+i))
	}
	return a
}

// videoRungs returns the rungs with video, in order.
func videoRungs(rungs []Rung) []Rung {
	var v []Rung
	for _, r := range rungs {
		if !r.AudioOnly() {
			v = append(v, r)
		}
	}
	return v
}

// filterGraph scales the decoded source to every rung (video rungs only), output [v0], [v1]... When the rungs come highest first (in
// size and framerate, as Ladder returns them) it cascades: each rung is scaled from the one above it, and the 30 fps
// cap applied once, where the framerate drops. Measured on the STANDARD 1080p30 ladder with superfast (bench
// source, 20 s): 12.4 to 13.3 CPU-seconds against 15.7 to 16.1 for four scalers from the 1080p source, a fifth less
// CPU per channel. Otherwise each rung is scaled from the source.
func filterGraph(cfg Config, rungs []Rung) string {
	tail := ",format=yuv420p"
	if cfg.VideoEncoder == "h264_vaapi" {
		tail = ",format=nv12,hwupload"
	}
	var g strings.Builder
	if !cascades(rungs) {
		fmt.Fprintf(&g, "[0:v]split=%d", len(rungs))
		for i := range rungs {
			fmt.Fprintf(&g, "[s%d]", i)
		}
		for i, r := range rungs {
			fmt.Fprintf(&g, ";[s%d]", i)
			if r.FPS <= 30 {
				g.WriteString(selectHalf + ",")
			}
			fmt.Fprintf(&g, "scale=%d:%d%s[v%d]", r.Width, r.Height, tail, i)
		}
		return g.String()
	}
	in := "[0:v]"
	for i, r := range rungs {
		if i > 0 {
			g.WriteString(";")
		}
		g.WriteString(in)
		if r.FPS <= 30 && (i == 0 || rungs[i-1].FPS > 30) {
			g.WriteString(selectHalf + ",")
		}
		fmt.Fprintf(&g, "scale=%d:%d,format=yuv420p", r.Width, r.Height)
		out := fmt.Sprintf("[v%d]", i)
		if tail != ",format=yuv420p" {
			out = fmt.Sprintf("[t%d]", i)
		}
		if i < len(rungs)-1 {
			in = fmt.Sprintf("[c%d]", i+1)
			fmt.Fprintf(&g, ",split=2%s%s", out, in)
		} else {
			g.WriteString(out)
		}
		if tail != ",format=yuv420p" {
			fmt.Fprintf(&g, ";[t%d]%s[v%d]", i, tail[1:], i)
		}
	}
	return g.String()
}

// cascades tells whether every rung is no larger and no faster than the one before it.
func cascades(rungs []Rung) bool {
	for i := 1; i < len(rungs); i++ {
		p, r := rungs[i-1], rungs[i]
		if r.Width > p.Width || r.Height > p.Height || r.FPS > p.FPS {
			return false
		}
	}
	return true
}

// videoArgs are a rung's encoder options.
func videoArgs(cfg Config, r Rung) []string {
	rate := strconv.FormatInt(r.VideoBitrate, 10)
	buf := strconv.FormatInt(r.VideoBitrate, 10) // a one second VBV buffer: near-constant bitrate, as IVS's
	a := []string{"-c:v", cfg.VideoEncoder, "-b:v", rate, "-maxrate", rate, "-bufsize", buf,
		"-force_key_frames", "source"}
	switch cfg.VideoEncoder {
	case "libx264":
		a = append(a, "-preset", cfg.Preset, "-profile:v", "main", "-forced-idr", "1",
			// Keyframes only where the source has them: no periodic or scene-cut keyframes of x264's own.
			"-x264-params", "keyint=infinite:scenecut=0")
		if cfg.LowLatency {
			a = append(a, "-tune", "zerolatency")
		}
	case "h264_nvenc":
		a = append(a, "-profile:v", "main", "-forced-idr", "1", "-g", "1000000", "-no-scenecut", "1")
		if cfg.LowLatency {
			a = append(a, "-tune", "ll", "-bf", "0", "-rc-lookahead", "0")
		}
	case "h264_qsv":
		a = append(a, "-profile:v", "main", "-forced_idr", "1", "-g", "1000000")
		if cfg.LowLatency {
			a = append(a, "-bf", "0", "-look_ahead", "0")
		}
	case "h264_vaapi":
		a = append(a, "-profile:v", "main", "-g", "1000000")
		if cfg.LowLatency {
			a = append(a, "-bf", "0")
		}
	}
	return a
}
