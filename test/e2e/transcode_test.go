package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/golang-jwt/jwt/v5"
)

// publish1080p publishes a 1080p30 synthetic stream cheaply (x264 ultrafast): the server's transcoder needs the CPU.
func publish1080p(t *testing.T, url string) *publisher {
	t.Helper()
	return startFFmpeg(t, []string{"-hide_banner", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "30",
		"-b:v", "4000k", "-maxrate", "4000k", "-bufsize", "4000k", "-c:a", "aac", "-b:a", "128k", "-f", "flv", url})
}

// multivariant fetches a playbackUrl (a new viewer session) and returns its variants.
func multivariant(t *testing.T, u string, header map[string]string) []*playlist.MultivariantVariant {
	t.Helper()
	mv, _ := fetchPlaylist[*playlist.Multivariant](t, u, header)
	return mv.Variants
}

// waitVariants polls a playbackUrl until it lists n variants, and returns them.
func waitVariants(t *testing.T, u string, n int, d time.Duration) []*playlist.MultivariantVariant {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v := multivariant(t, u, nil)
		if len(v) == n {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d variants after %v, want %d", len(v), d, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func resolutions(vs []*playlist.MultivariantVariant) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Resolution)
	}
	return out
}

// probeMedia decodes a media file's video: width, height, frames, and whether it has audio.
func probeMedia(t *testing.T, body []byte) (w, h, frames int, audio bool) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,width,height,nb_read_frames", "-of", "json", "-")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var p struct {
		Streams []struct {
			Type   string `json:"codec_type"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Streams {
		switch s.Type {
		case "video":
			w, h = s.Width, s.Height
			frames, _ = strconv.Atoi(s.Frames)
		case "audio":
			audio = true
		}
	}
	return w, h, frames, audio
}

// TestTranscodeStandardLadder: a 1080p30 stream on a STANDARD channel plays as IVS's ladder (the source, 720p30,
// 480p30, 360p30, 160p30) with the right attributes; every rendition's segments decode at the advertised size, and
// the renditions share their segments (same numbers, frames and date-times); aws:maximum-resolution filters the
// ladder; while ffmpeg is down the channel falls back to its source, and says so in the stream session.
func TestTranscodeStandardLadder(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{Args: []string{"--rtmp-allow-insecure"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	key, _ := playbackKey(t, c)
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("ladder"), Type: types.ChannelTypeStandardChannelType,
		Authorized: true})).must(t, "CreateChannel")
	publish1080p(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(ch.StreamKey.Value))
	st := waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	token := func(claims jwt.MapClaims) string {
		claims["aws:channel-arn"], claims["exp"] = *ch.Channel.Arn, time.Now().Add(time.Hour).Unix()
		return aws.ToString(ch.Channel.PlaybackUrl) + "?token=" + viewerToken(t, key, jwt.SigningMethodES384, claims)
	}
	pb := token(jwt.MapClaims{})

	vs := waitVariants(t, pb, 5, 40*time.Second)
	want := []struct {
		name string
		w, h int
	}{{"1080p30", 1920, 1080}, {"720p30", 1280, 720}, {"480p30", 852, 480}, {"360p30", 640, 360}, {"160p30", 284, 160}}
	for i, v := range vs {
		if v.Resolution != fmt.Sprintf("%dx%d", want[i].w, want[i].h) || v.Video != want[i].name || v.FrameRate == nil || *v.FrameRate != 30 ||
			len(v.Codecs) != 2 || !strings.HasPrefix(v.Codecs[0], "avc1.") || v.Codecs[1] != "mp4a.40.2" ||
			(i > 0 && v.Bandwidth >= vs[i-1].Bandwidth) {
			t.Errorf("variant %d: %+v, want %s %dx%d at 30 fps, H.264 and AAC, below the one above", i, v, want[i].name, want[i].w, want[i].h)
		}
	}

	// The renditions share their segments: the newest segment complete in all of them, fetched from each.
	type media struct {
		url string
		pl  *playlist.Media
	}
	var ms []media
	common := uint64(1 << 62)
	for _, v := range vs {
		u := resolve(pb, v.URI)
		pl, _ := mediaPlaylist(t, u, nil)
		newest := uint64(pl.MediaSequence) + uint64(len(pl.Segments)) - 1
		common = min(common, newest)
		ms = append(ms, media{u, pl})
	}
	var dates []time.Time
	var counts []int
	for i, m := range ms {
		idx := int(common) - m.pl.MediaSequence
		if idx < 0 || idx >= len(m.pl.Segments) {
			t.Fatalf("%s: segment %d not in its window (%d…)", want[i].name, common, m.pl.MediaSequence)
		}
		seg := m.pl.Segments[idx]
		r := fetch(t, "GET", resolve(m.url, seg.URI), nil)
		if r.status != 200 {
			t.Fatalf("%s segment %d: %d", want[i].name, common, r.status)
		}
		w, h, frames, audio := probeMedia(t, r.body)
		if w != want[i].w || h != want[i].h || !audio || frames < 25 {
			t.Errorf("%s segment %d decodes as %dx%d, %d frames, audio %v", want[i].name, common, w, h, frames, audio)
		}
		if seg.DateTime == nil {
			t.Fatalf("%s segment %d has no date-time", want[i].name, common)
		}
		dates, counts = append(dates, *seg.DateTime), append(counts, frames)
	}
	for i := range dates {
		if !dates[i].Equal(dates[0]) || counts[i] != counts[0] {
			t.Errorf("segment %d: date-times %v and frames %v differ between renditions", common, dates, counts)
			break
		}
	}

	// aws:maximum-resolution SD: the ladder up to 480p.
	if got := resolutions(multivariant(t, token(jwt.MapClaims{"aws:maximum-resolution": "SD"}), nil)); !slices.Equal(got, []string{"852x480", "640x360", "284x160"}) {
		t.Errorf("aws:maximum-resolution SD: variants %v", got)
	}

	// ffmpeg killed: the source only, until it is back.
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(s.cmd.Process.Pid), "-f", "filter_complex").Output()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid == 0 {
		t.Fatalf("the transcoder's ffmpeg is not a child of the server: %v %q", err, out)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitVariants(t, pb, 1, 10*time.Second)
	waitVariants(t, pb, 5, 30*time.Second)
	sess := sdk(c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn, StreamId: st.StreamId})).must(t, "GetStreamSession").StreamSession
	var names []string
	for _, e := range sess.TruncatedEvents {
		names = append(names, aws.ToString(e.Name)+"/"+aws.ToString(e.Code))
	}
	if !slices.Contains(names, "Transcode Failure/TranscoderUnavailable") || !slices.Contains(names, "Transcode Recovery/") {
		t.Errorf("stream session events %v: the transcoder's failure and recovery are missing", names)
	}
	if !strings.Contains(s.Log(), "transcoding failed: the channel falls back to its source rendition") {
		t.Errorf("the server did not log the fallback")
	}
}

// TestTranscodeWithoutFFmpeg: without ffmpeg the server runs, says at start and for each stream that needs
// transcoding what is missing, and STANDARD channels play their source rendition.
func TestTranscodeWithoutFFmpeg(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{Args: []string{"--rtmp-allow-insecure", "--ffmpeg", "/nonexistent/ffmpeg"}})
	if !strings.Contains(s.Log(), "ffmpeg not found: STANDARD and ADVANCED channels play their source rendition only") ||
		!strings.Contains(s.Log(), "apt-get install ffmpeg") {
		t.Errorf("no start-up message about the missing ffmpeg:\n%s", s.Log())
	}
	c := s.IVS(Credential{}, "")
	ch := sdk(c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{Type: types.ChannelTypeStandardChannelType})).must(t, "CreateChannel")
	publishSize(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(ch.StreamKey.Value), "854x480")
	waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	time.Sleep(2 * time.Second)
	if got := resolutions(multivariant(t, aws.ToString(ch.Channel.PlaybackUrl), nil)); !slices.Equal(got, []string{"854x480"}) {
		t.Errorf("variants %v, want the source only", got)
	}
	if !strings.Contains(s.Log(), "transcoding is not available: the channel plays its source rendition only") {
		t.Errorf("the stream's log does not say transcoding is unavailable")
	}
}
