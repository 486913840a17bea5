package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/openivs/openivs/internal/mediatest"
)

// hevcClip is a few seconds of HEVC and AAC made by ffmpeg, as access units to publish in a loop.
type hevcClip struct {
	vps, sps, pps []byte
	video         []hevcFrame
	audio         []hevcFrame // AAC access units
	aac           mpeg4audio.AudioSpecificConfig
	length        time.Duration
}

type hevcFrame struct {
	pts, dts time.Duration
	au       [][]byte
}

// makeHEVCClip encodes 4 s of testsrc2 and a sine with libx265 (1 s GOP, no B-frames) and AAC, and reads the
// access units back.
func makeHEVCClip(t *testing.T, size string) *hevcClip {
	t.Helper()
	file := filepath.Join(t.TempDir(), "clip.ts")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "4", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "log-level=error:keyint=30:min-keyint=30:scenecut=0:bframes=0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "96k", "-f", "mpegts", file)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	ts, err := mediatest.ReadTS(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &hevcClip{vps: ts.VPS, sps: ts.SPS, pps: ts.PPS, aac: *ts.AAC, length: 4 * time.Second}
	for _, f := range ts.Frames {
		if f.Video {
			c.video = append(c.video, hevcFrame{pts: f.PTS, dts: f.DTS, au: f.AU})
		} else {
			c.audio = append(c.audio, hevcFrame{pts: f.PTS, au: f.AU})
		}
	}
	if !ts.HEVC || len(c.video) < 100 || len(c.audio) == 0 {
		t.Fatalf("the HEVC clip has %d frames, %d audio frames", len(c.video), len(c.audio))
	}
	base := c.video[0].dts
	for i := range c.video {
		c.video[i].pts -= base
		c.video[i].dts -= base
	}
	for i := range c.audio {
		c.audio[i].pts -= base
	}
	return c
}

// hevcPublish publishes a clip in a loop over Enhanced RTMP (gortmplib's client: ffmpeg 5.1 cannot).
type hevcPublish struct {
	clip *hevcClip
	d    time.Duration // how long
	// h264 and h264AUs, when set, are a second video track sent along (multitrack)
	h264    *codecs.H264
	h264AUs [][][]byte
	// stall, when closed, pauses the media for 6 s (the connection stays open)
	stall <-chan struct{}
}

// run publishes to rtmpURL for p.d, or until the server closes the connection; it returns the error that ended it.
func (p hevcPublish) run(t *testing.T, rtmpURL string) error {
	c, stall := p.clip, p.stall
	cl, err := dialPublish(t, rtmpURL)
	if err != nil {
		return err
	}
	defer cl.Close()
	video := &gortmplib.Track{Codec: &codecs.H265{VPS: c.vps, SPS: c.sps, PPS: c.pps}}
	audio := &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: &c.aac}}
	tracks := []*gortmplib.Track{video, audio}
	var second *gortmplib.Track
	if p.h264 != nil {
		second = &gortmplib.Track{Codec: p.h264}
		tracks = []*gortmplib.Track{video, second, audio}
	}
	w := &gortmplib.Writer{Conn: cl, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		return err
	}
	start := time.Now()
	ai := 0
	for i := 0; ; i++ {
		loop := time.Duration(i/len(c.video)) * c.length
		f := c.video[i%len(c.video)]
		dts := loop + f.dts
		if dts > p.d {
			return nil
		}
		select {
		case <-stall:
			time.Sleep(6 * time.Second)
			start, stall = start.Add(6*time.Second), nil
		default:
		}
		if wait := time.Until(start.Add(dts)); wait > 0 {
			time.Sleep(wait)
		}
		cl.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := w.WriteH265(video, loop+f.pts, dts, f.au); err != nil {
			return err
		}
		if second != nil {
			if err := w.WriteH264(second, dts, dts, p.h264AUs[i%len(p.h264AUs)]); err != nil {
				return err
			}
		}
		for ; ; ai++ {
			a := c.audio[ai%len(c.audio)]
			at := time.Duration(ai/len(c.audio))*c.length + a.pts
			if at > dts+time.Second/30 {
				break
			}
			if err := w.WriteMPEG4Audio(audio, at, a.au[0]); err != nil {
				return err
			}
		}
	}
}

// publishSRTHEVC publishes HEVC (libx265, B-frames on, 1 s GOP) and AAC in MPEG-TS over SRT with ffmpeg.
func publishSRTHEVC(t *testing.T, addr, key, passphrase string) *publisher {
	t.Helper()
	u := "srt://" + addr + "?mode=caller&streamid=" + key + "&passphrase=" + passphrase
	return startFFmpeg(t, []string{"-hide_banner", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=30:min-keyint=30:scenecut=0",
		"-pix_fmt", "yuv420p", "-b:v", "800k", "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2", "-f", "mpegts", u})
}

var hvc1Main = regexp.MustCompile(`^hvc1\.1\.6\.L(\d+)\.90$`) // x265's Main: progressive, frame-only

// checkHEVCLive: the live channel's session describes the HEVC track, its multivariant playlist names the hvc1
// codec, and a segment fetched through the playback URLs decodes as HEVC at the stream's size.
func checkHEVCLive(t *testing.T, c *ivs.Client, ch *ivs.CreateChannelOutput, width, height int64, audio string) {
	t.Helper()
	ctx := Ctx(t)
	st := waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	if st.Health != types.StreamHealthStreamHealthy {
		t.Errorf("GetStream health %s", st.Health)
	}
	sess, err := c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn})
	if err != nil {
		t.Fatal(err)
	}
	vc := sess.StreamSession.IngestConfigurations.VideoConfigurations
	if len(vc) != 1 {
		t.Fatalf("video configurations %+v", vc)
	}
	v := vc[0]
	codec := aws.ToString(v.Codec)
	m := hvc1Main.FindStringSubmatch(codec)
	if m == nil || aws.ToString(v.Profile) != "Main" || v.VideoWidth != width || v.VideoHeight != height ||
		aws.ToString(v.Track) != "Track0" || v.TargetFramerate != 30 {
		t.Errorf("HEVC video configuration: codec %s profile %s level %s %dx%d track %s framerate %d", codec, aws.ToString(v.Profile),
			aws.ToString(v.Level), v.VideoWidth, v.VideoHeight, aws.ToString(v.Track), v.TargetFramerate)
	} else if lvl := map[string]string{"60": "2.0", "63": "2.1", "90": "3.0", "93": "3.1", "120": "4.0"}[m[1]]; lvl == "" || aws.ToString(v.Level) != lvl {
		t.Errorf("level %s with level_idc %s in the codec string", aws.ToString(v.Level), m[1])
	}
	if leg := sess.StreamSession.IngestConfiguration; leg == nil || leg.Video == nil || aws.ToString(leg.Video.Codec) != codec || leg.Video.AvcProfile != nil {
		t.Errorf("legacy ingestConfiguration for HEVC: %+v", leg)
	}

	pbURL := aws.ToString(ch.Channel.PlaybackUrl)
	mv := fetch(t, "GET", pbURL, nil)
	if mv.status != 200 || !strings.Contains(string(mv.body), `CODECS="`+codec+`,`+audio+`"`) {
		t.Fatalf("multivariant playlist does not name %s,%s: %d\n%s", codec, audio, mv.status, mv.body)
	}
	vu := variantURL(t, pbURL, nil)
	mp, r := mediaPlaylist(t, vu, nil)
	if mp.Map == nil || len(mp.Segments) == 0 {
		t.Fatalf("fMP4 media playlist without EXT-X-MAP or segments:\n%s", r.body)
	}
	init := fetch(t, "GET", resolve(vu, mp.Map.URI), nil)
	seg := fetch(t, "GET", resolve(vu, mp.Segments[len(mp.Segments)-1].URI), nil)
	if init.status != 200 || seg.status != 200 {
		t.Fatalf("init %d, segment %d", init.status, seg.status)
	}
	file := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(file, append(init.body, seg.body...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,codec_tag_string,width,height,nb_read_frames", "-of", "csv=p=0", file).CombinedOutput()
	want := regexp.MustCompile(`^hevc,hvc1,` + strconv.FormatInt(width, 10) + "," + strconv.FormatInt(height, 10) + `,(\d+)$`)
	if g := want.FindStringSubmatch(strings.TrimSpace(string(out))); err != nil || g == nil || g[1] == "0" {
		t.Errorf("ffprobe of init + segment: %v %s, want hevc %dx%d hvc1 with frames", err, out, width, height)
	}
}

// multitrackChannel is a STANDARD channel with multitrack input enabled (policy ALLOW, maximum HD), which IVS
// requires to be FRAGMENTED_MP4: the channel that takes HEVC.
func multitrackChannel(t *testing.T, c *ivs.Client, name string, policy types.MultitrackPolicy) *ivs.CreateChannelOutput {
	t.Helper()
	ch, err := c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{Name: aws.String(name), Type: types.ChannelTypeStandardChannelType,
		ContainerFormat: types.ContainerFormatFragmentedMP4, MultitrackInputConfiguration: &types.MultitrackInputConfiguration{
			Enabled: true, Policy: policy, MaximumResolution: types.MultitrackMaximumResolutionHd}})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestIngestHEVCSRT: ffmpeg publishes HEVC (with B-frames) over SRT to a channel with multitrack input: the stream
// is live, described from the HEVC SPS, measured, listed with the hvc1 codec and played back as HEVC in fMP4. To a
// channel without multitrack input it is refused with InvalidMultitrackInputVideoTrackMediaProperties.
func TestIngestHEVCSRT(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL}})
	c := s.IVS(Credential{}, "")
	ch := multitrackChannel(t, c, "hevc-srt", types.MultitrackPolicyAllow)
	p := publishSRTHEVC(t, s.SRT, aws.ToString(ch.StreamKey.Value), aws.ToString(ch.Channel.Srt.Passphrase))
	checkHEVCLive(t, c, ch, 640, 360, "mp4a.40.2")
	// the meters measure HEVC as they do H.264: the session's bitrate comes from the bytes received
	var bitrate int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && bitrate == 0; time.Sleep(time.Second) {
		sess, err := c.GetStreamSession(Ctx(t), &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn})
		if err != nil {
			t.Fatal(err)
		}
		bitrate = sess.StreamSession.IngestConfigurations.VideoConfigurations[0].TargetBitrate
	}
	if bitrate < 100_000 || bitrate > 5_000_000 {
		t.Errorf("measured HEVC bitrate %d bps for an 800 kbps encode", bitrate)
	}
	if p.exited(0) {
		t.Fatalf("ffmpeg stopped: %s", p.out.String())
	}
	p.stop()

	plain, err := c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{Name: aws.String("plain"), Type: types.ChannelTypeStandardChannelType})
	if err != nil {
		t.Fatal(err)
	}
	refused := publishSRTHEVC(t, s.SRT, aws.ToString(plain.StreamKey.Value), aws.ToString(plain.Channel.Srt.Passphrase))
	if !refused.exited(15 * time.Second) {
		t.Error("HEVC over SRT to a channel without multitrack input: ffmpeg still publishing")
	}
	checkRefused(t, c, hook, plain.Channel.Arn, "InvalidMultitrackInputVideoTrackMediaProperties")
}

// TestIngestHEVCRTMP: Enhanced RTMP HEVC is accepted on a channel with multitrack input and played back; to a
// channel without it, HEVC is refused with InvalidMultitrackInputVideoTrackMediaProperties (Session Created, then
// Session Ended with the code, never Stream Start), as are H.264 and HEVC tracks mixed in one multitrack publish.
func TestIngestHEVCRTMP(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL, "--rtmp-allow-insecure"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	clip := makeHEVCClip(t, "640x360")
	rtmp := func(ch *ivs.CreateChannelOutput) string {
		return "rtmp://" + s.RTMP + "/app/" + aws.ToString(ch.StreamKey.Value)
	}

	multi := multitrackChannel(t, c, "hevc-rtmp", types.MultitrackPolicyAllow)
	done, stall := make(chan error, 1), make(chan struct{})
	go func() { done <- hevcPublish{clip: clip, d: 16 * time.Second, stall: stall}.run(t, rtmp(multi)) }()
	checkHEVCLive(t, c, multi, 640, 360, "mp4a.40.2")
	// health follows the HEVC media as it does H.264: STARVING while the encoder sends nothing, HEALTHY after
	close(stall)
	waitHealth(t, c, multi.Channel.Arn, types.StreamHealthStarving, 6*time.Second)
	waitHealth(t, c, multi.Channel.Arn, types.StreamHealthStreamHealthy, 10*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("the accepted HEVC publisher failed: %v", err)
	}

	plain, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("plain"), Type: types.ChannelTypeStandardChannelType})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = hevcPublish{clip: clip, d: 10 * time.Second}.run(t, rtmp(plain))
	if err == nil || time.Since(start) > 8*time.Second {
		t.Errorf("HEVC to a channel without multitrack input: publisher ended after %v with %v, want the connection closed", time.Since(start), err)
	}
	checkRefused(t, c, hook, plain.Channel.Arn, "InvalidMultitrackInputVideoTrackMediaProperties")
	if !strings.Contains(s.Log(), "HEVC video needs a channel with multitrack input enabled and containerFormat FRAGMENTED_MP4") {
		t.Error("no log line says why HEVC was refused")
	}

	required := multitrackChannel(t, c, "mixed", types.MultitrackPolicyRequire)
	sps, pps, aus := h264AUs(t, "640x360")
	hevcPublish{clip: clip, d: 5 * time.Second, h264: &codecs.H264{SPS: sps, PPS: pps}, h264AUs: aus}.run(t, rtmp(required))
	checkRefused(t, c, hook, required.Channel.Arn, "InvalidMultitrackInputVideoTrackMediaProperties")
}
