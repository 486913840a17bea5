package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/openivs/openivs/internal/hls"
)

// thumbnailTimeout bounds one ffmpeg run.
const thumbnailTimeout = 20 * time.Second

// thumbnailMedia is how much of a segment's start ffmpeg gets to cut a thumbnail from.
const thumbnailMedia = 400 * time.Millisecond

// thumbnail queues a thumbnail cut from the segment's first frame (a keyframe); rec.mu held.
func (rec *recording) thumbnail(seg *hls.Segment) {
	var keys []string
	if rec.cfg.ThumbnailSequential {
		keys = append(keys, fmt.Sprintf("media/thumbnails/thumb%d.jpg", rec.thumbs))
		rec.thumbs++
	}
	if rec.cfg.ThumbnailLatest {
		keys = append(keys, "media/latest_thumbnail/thumb.jpg")
	}
	if len(keys) == 0 {
		return
	}
	// The first parts are enough (the keyframe, and the frames a decoder with B-frames needs before it outputs
	// it): ffmpeg then decodes a fraction of the segment (measured: most of a thumbnail's CPU was decoding).
	input := rec.thumbInit
	size := len(input)
	var parts []*hls.Part
	var d time.Duration
	for _, p := range seg.Parts {
		if d >= thumbnailMedia {
			break
		}
		parts, d, size = append(parts, p), d+p.Duration, size+len(p.Data)
	}
	// copied now: the live segment's media is given back once it leaves the window, and the job may wait
	in := make([]byte, 0, size)
	in = append(in, input...)
	for _, p := range parts {
		in = append(in, p.Data...)
	}
	ffmpeg, w, h, fmp4 := rec.r.cfg.FFmpeg, rec.thumbW, rec.thumbH, rec.fmp4
	rec.enqueue(&job{key: keys[0], keys: keys[1:], ctype: "image/jpeg", size: int64(size),
		make: func(ctx context.Context) ([]byte, error) {
			return cutThumbnail(ctx, ffmpeg, in, fmp4, w, h)
		}})
}

// cutThumbnail decodes the first video frame of a segment (MPEG-TS, or fMP4 with its initialization section) and
// encodes it as a JPEG of w×h with ffmpeg.
func cutThumbnail(ctx context.Context, ffmpeg string, segment []byte, fmp4 bool, w, h int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, thumbnailTimeout)
	defer cancel()
	format := "mpegts"
	if fmp4 {
		format = "mp4"
	}
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "1",
		"-f", format, "-i", "pipe:0", "-an", "-frames:v", "1", "-vf", fmt.Sprintf("scale=%d:%d", w, h),
		"-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1")
	cmd.Stdin = bytes.NewReader(segment)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if out.Len() < 4 || !bytes.HasPrefix(out.Bytes(), []byte{0xff, 0xd8}) {
		return nil, errors.New("ffmpeg wrote no JPEG")
	}
	return out.Bytes(), nil
}
