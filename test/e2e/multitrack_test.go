package e2e

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// h264AUs encodes a few seconds of testsrc2 with ffmpeg and returns the SPS, the PPS and the access units.
func h264AUs(t *testing.T, size string) (sps, pps []byte, aus [][][]byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "v.h264")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
		"-x264-params", "aud=1", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	nalus := splitAnnexB(raw)
	var au [][]byte
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			if len(au) > 0 {
				aus = append(aus, au)
			}
			au = nil
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
		au = append(au, n)
	}
	if len(au) > 0 {
		aus = append(aus, au)
	}
	return sps, pps, aus
}

// splitAnnexB splits an H.264 Annex-B byte stream on its start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// dialPublish connects an RTMP client to publish at rtmpURL.
func dialPublish(t *testing.T, rtmpURL string) (*gortmplib.Client, error) {
	u, err := url.Parse(rtmpURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// publishMultitrack publishes the same H.264 on tracks video tracks (Enhanced RTMP multitrack) for d, or until
// the server closes the connection; it returns the error that ended it.
func publishMultitrack(t *testing.T, rtmpURL string, tracks int, sps, pps []byte, aus [][][]byte, d time.Duration) error {
	c, err := dialPublish(t, rtmpURL)
	if err != nil {
		return err
	}
	defer c.Close()
	var ts []*gortmplib.Track
	for i := 0; i < tracks; i++ {
		ts = append(ts, &gortmplib.Track{Codec: &codecs.H264{SPS: sps, PPS: pps}})
	}
	w := &gortmplib.Writer{Conn: c, Tracks: ts}
	if err := w.Initialize(); err != nil {
		return err
	}
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		pts := time.Duration(i) * time.Second / 30
		if wait := time.Until(start.Add(pts)); wait > 0 {
			time.Sleep(wait)
		}
		for _, tr := range ts {
			c.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := w.WriteH264(tr, pts, pts, aus[i%len(aus)]); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestIngestMultitrack: Enhanced RTMP multitrack input is accepted only as the channel's
// multitrackInputConfiguration allows; a refused session ends with IVS's code (session, events).
func TestIngestMultitrack(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL, "--rtmp-allow-insecure"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	sps, pps, aus := h264AUs(t, "640x360")

	plain, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("multi"), ContainerFormat: types.ContainerFormatFragmentedMP4,
		MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true, Policy: types.MultitrackPolicyRequire,
			MaximumResolution: types.MultitrackMaximumResolutionFullHd}})
	if err != nil {
		t.Fatal(err)
	}

	// Two tracks on a channel without multitrack: refused, session ended with MultitrackInputNotAllowed.
	publishMultitrack(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(plain.StreamKey.Value), 2, sps, pps, aus, 5*time.Second)
	checkRefused(t, c, hook, plain.Channel.Arn, "MultitrackInputNotAllowed")

	// One track on a channel that requires multitrack: MultitrackInputRequired.
	publishMultitrack(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(multi.StreamKey.Value), 1, sps, pps, aus, 5*time.Second)
	checkRefused(t, c, hook, multi.Channel.Arn, "MultitrackInputRequired")

	// Two tracks on it: live, with both video configurations in the session.
	done := make(chan error, 1)
	go func() {
		done <- publishMultitrack(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(multi.StreamKey.Value), 2, sps, pps, aus, 8*time.Second)
	}()
	waitLive(t, c, multi.Channel.Arn, 15*time.Second)
	sess, err := c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: multi.Channel.Arn})
	if err != nil {
		t.Fatal(err)
	}
	vc := sess.StreamSession.IngestConfigurations.VideoConfigurations
	if len(vc) != 2 || aws.ToString(vc[0].Track) != "Track0" || aws.ToString(vc[1].Track) != "Track1" || vc[1].VideoHeight != 360 {
		t.Fatalf("multitrack video configurations: %+v", vc)
	}
	if err := <-done; err != nil {
		t.Fatalf("the accepted multitrack publisher failed: %v", err)
	}
}

// checkRefused: the channel did not go live; its last session ended with code, with an error flag, and the
// Session Ended event carries the code.
func checkRefused(t *testing.T, c *ivs.Client, hook *webhook, arn *string, code string) {
	t.Helper()
	ctx := Ctx(t)
	var sess *ivs.GetStreamSessionOutput
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		sess, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: arn})
		if err == nil && sess.StreamSession.EndTime != nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || sess.StreamSession.EndTime == nil {
		t.Fatalf("%s: no ended session: %+v %v", code, sess, err)
	}
	ev := sess.StreamSession.TruncatedEvents
	if len(ev) == 0 || aws.ToString(ev[0].Name) != "Session Ended" || aws.ToString(ev[0].Code) != code {
		t.Fatalf("%s: newest session event %+v", code, ev)
	}
	for _, e := range ev {
		if aws.ToString(e.Name) == "Stream Start" {
			t.Fatalf("%s: a refused session reported Stream Start", code)
		}
	}
	list, err := c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: arn})
	if err != nil || len(list.StreamSessions) == 0 || !list.StreamSessions[0].HasErrorEvent {
		t.Fatalf("%s: ListStreamSessions: %+v %v", code, list, err)
	}
	id := aws.ToString(sess.StreamSession.StreamId)
	hook.waitFor(t, id, []string{"IVS Stream State Change/Session Created", "IVS Stream State Change/Session Ended"}, 10*time.Second)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, e := range hook.events {
		if d, _ := e["detail"].(map[string]any); d["stream_id"] == id && d["event_name"] == "Session Ended" && d["code"] != code {
			t.Fatalf("Session Ended event without code %s: %v", code, d)
		}
	}
	if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: arn}); err == nil || !strings.Contains(err.Error(), "ChannelNotBroadcasting") {
		t.Fatalf("%s: the channel is live: %v", code, err)
	}
}
