package e2e

import (
	"bytes"
	"crypto/ecdsa"
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

// probed is what ffprobe decodes of a media file.
type probed struct {
	w, h, frames int      // the video's size and frames (0 without video)
	audio        bool     // it has an audio stream
	audioFrames  int      // decoded
	streams      []string // "<codec_type>/<codec_name>": "video/h264", "audio/aac", "data/timed_id3"
}

// probeMedia decodes a media file with ffprobe.
func probeMedia(t *testing.T, body []byte) probed {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames", "-of", "json", "-")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var p struct {
		Streams []struct {
			Type   string `json:"codec_type"`
			Name   string `json:"codec_name"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	var r probed
	for _, s := range p.Streams {
		r.streams = append(r.streams, s.Type+"/"+s.Name)
		switch s.Type {
		case "video":
			r.w, r.h = s.Width, s.Height
			r.frames, _ = strconv.Atoi(s.Frames)
		case "audio":
			r.audio = true
			r.audioFrames, _ = strconv.Atoi(s.Frames)
		}
	}
	return r
}

// commonSegment fetches, from each variant of the multivariant playlist at pb, the newest segment all of them have
// complete, and returns its number, what ffprobe decodes of each, and their date-times.
func commonSegment(t *testing.T, pb string, vs []*playlist.MultivariantVariant) (msn uint64, probes []probed, dates []time.Time) {
	t.Helper()
	urls := make([]string, len(vs))
	pls := make([]*playlist.Media, len(vs))
	msn = uint64(1 << 62)
	for i, v := range vs {
		urls[i] = resolve(pb, v.URI)
		pls[i], _ = mediaPlaylist(t, urls[i], nil)
		msn = min(msn, uint64(pls[i].MediaSequence)+uint64(len(pls[i].Segments))-1)
	}
	for i, pl := range pls {
		idx := int(msn) - pl.MediaSequence
		if idx < 0 || idx >= len(pl.Segments) {
			t.Fatalf("%s: segment %d not in its window (%d…)", vs[i].Video, msn, pl.MediaSequence)
		}
		seg := pl.Segments[idx]
		r := fetch(t, "GET", resolve(urls[i], seg.URI), nil)
		if r.status != 200 {
			t.Fatalf("%s segment %d: %d", vs[i].Video, msn, r.status)
		}
		if seg.DateTime == nil {
			t.Fatalf("%s segment %d has no date-time", vs[i].Video, msn)
		}
		probes, dates = append(probes, probeMedia(t, r.body)), append(dates, *seg.DateTime)
	}
	return msn, probes, dates
}

// videoRung is a video variant expected in a multivariant playlist.
type videoRung struct {
	name string
	w, h int
}

// checkVideoVariants checks video variants against a ladder: IVS's names and sizes, 30 fps, H.264 and AAC, each
// with less bandwidth than the one above.
func checkVideoVariants(t *testing.T, vs []*playlist.MultivariantVariant, want []videoRung) {
	t.Helper()
	for i, v := range vs {
		if v.Resolution != fmt.Sprintf("%dx%d", want[i].w, want[i].h) || v.Video != want[i].name || v.FrameRate == nil || *v.FrameRate != 30 ||
			len(v.Codecs) != 2 || !strings.HasPrefix(v.Codecs[0], "avc1.") || v.Codecs[1] != "mp4a.40.2" ||
			(i > 0 && v.Bandwidth >= vs[i-1].Bandwidth) {
			t.Errorf("variant %d: %+v, want %s %dx%d at 30 fps, H.264 and AAC, below the one above", i, v, want[i].name, want[i].w, want[i].h)
		}
	}
}

// tokenURL returns the playbackUrl of a private channel with a viewer token of the given claims (the channel's
// ARN and an expiry are added).
func tokenURL(t *testing.T, key *ecdsa.PrivateKey, ch *types.Channel) func(jwt.MapClaims) string {
	return func(claims jwt.MapClaims) string {
		claims["aws:channel-arn"], claims["exp"] = *ch.Arn, time.Now().Add(time.Hour).Unix()
		return aws.ToString(ch.PlaybackUrl) + "?token=" + viewerToken(t, key, jwt.SigningMethodES384, claims)
	}
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
	token := tokenURL(t, key, ch.Channel)
	pb := token(jwt.MapClaims{})

	vs := waitVariants(t, pb, 5, 40*time.Second)
	want := []videoRung{{"1080p30", 1920, 1080}, {"720p30", 1280, 720}, {"480p30", 852, 480}, {"360p30", 640, 360}, {"160p30", 284, 160}}
	checkVideoVariants(t, vs, want)

	// The renditions share their segments: the newest segment complete in all of them, fetched from each.
	shared := func(when string) {
		t.Helper()
		common, probes, dates := commonSegment(t, pb, vs)
		for i, p := range probes {
			if p.w != want[i].w || p.h != want[i].h || !p.audio || p.frames < 25 {
				t.Errorf("%s: %s segment %d decodes as %dx%d, %d frames, audio %v", when, want[i].name, common, p.w, p.h, p.frames, p.audio)
			}
			if !dates[i].Equal(dates[0]) || p.frames != probes[0].frames {
				t.Errorf("%s: segment %d: %s has date-time %v and %d frames, %s %v and %d", when, common, want[i].name, dates[i], p.frames,
					want[0].name, dates[0], probes[0].frames)
			}
		}
	}
	shared("at first")

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
	vs = waitVariants(t, pb, 5, 30*time.Second)
	shared("after ffmpeg's restart") // the same segment numbers and date-times: the rungs started afresh on the source's timeline
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

// TestTranscodeAdvancedSDAudioOnly: a 480p30 stream on an ADVANCED_SD channel plays as IVS's ADVANCED_SD ladder,
// 480p30, 360p30 and 160p30, and last the audio-only rendition in IVS's form; the audio-only rendition's segments
// are AAC alone and share the video renditions' numbers and date-times; aws:maximum-resolution keeps it.
func TestTranscodeAdvancedSDAudioOnly(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{Args: []string{"--rtmp-allow-insecure"}})
	c := s.IVS(Credential{}, "")
	key, _ := playbackKey(t, c)
	ch := sdk(c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{Name: aws.String("advanced-sd"), Type: types.ChannelTypeAdvancedSDChannelType,
		Authorized: true})).must(t, "CreateChannel")
	publishSize(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(ch.StreamKey.Value), "854x480")
	waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	token := tokenURL(t, key, ch.Channel)
	pb := token(jwt.MapClaims{})

	vs := waitVariants(t, pb, 4, 40*time.Second)
	checkVideoVariants(t, vs[:3], []videoRung{{"480p30", 854, 480}, {"360p30", 640, 360}, {"160p30", 284, 160}})
	// IVS's lines, exactly, last
	lines := strings.Split(strings.TrimSpace(string(fetch(t, "GET", pb, nil).body)), "\n")
	n := len(lines)
	if n < 3 || lines[n-3] != `#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="audio_only",NAME="audio_only",AUTOSELECT=NO,DEFAULT=NO` ||
		lines[n-2] != `#EXT-X-STREAM-INF:BANDWIDTH=160000,CODECS="mp4a.40.2",VIDEO="audio_only"` || !strings.HasSuffix(lines[n-1], "/audio_only.m3u8") {
		t.Errorf("the multivariant playlist does not end with IVS's audio-only rendition:\n%s", strings.Join(lines, "\n"))
	}

	common, probes, dates := commonSegment(t, pb, vs)
	if p := probes[3]; !slices.Contains(p.streams, "audio/aac") || p.audioFrames < 35 ||
		slices.ContainsFunc(p.streams, func(s string) bool { return strings.HasPrefix(s, "video/") }) {
		t.Errorf("audio_only segment %d: streams %v, %d AAC frames; want AAC alone (and its timed metadata), a second of it", common, p.streams, p.audioFrames)
	}
	for i, p := range probes[:3] {
		if !slices.Contains(p.streams, "video/h264") || !dates[i].Equal(dates[3]) {
			t.Errorf("segment %d: %s has streams %v, date-time %v; audio_only's %v", common, vs[i].Video, p.streams, dates[i], dates[3])
		}
	}

	// aws:maximum-resolution SD: the whole ladder, the audio-only rendition included.
	if got := resolutions(multivariant(t, token(jwt.MapClaims{"aws:maximum-resolution": "SD"}), nil)); !slices.Equal(got, []string{"854x480", "640x360", "284x160", ""}) {
		t.Errorf("aws:maximum-resolution SD: variants %v", got)
	}
}
