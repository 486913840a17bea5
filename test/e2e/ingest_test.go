package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// encoderSlots bounds how many ffmpeg-heavy tests run at once: real-time encoders that starve each other of CPU
// would skew the measured framerates and bitrates the tests assert on (CI has 2 cores).
var encoderSlots = make(chan struct{}, 2)

// encoderSlot holds a slot until the test ends.
func encoderSlot(t *testing.T) {
	encoderSlots <- struct{}{}
	t.Cleanup(func() { <-encoderSlots })
}

// publisher is an ffmpeg process publishing a synthetic stream (testsrc2 and a sine, x264 with a 1 s GOP, AAC).
type publisher struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func publish(t *testing.T, url string) *publisher {
	t.Helper()
	return publishSize(t, url, "640x360")
}

func publishSize(t *testing.T, url, size string) *publisher {
	t.Helper()
	return publishEncoded(t, url, size, "veryfast", "800k")
}

// publishEncoded is publishSize with the x264 preset and video bitrate given.
func publishEncoded(t *testing.T, url, size, preset, bitrate string) *publisher {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-g", "30", "-b:v", bitrate, "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2",
		"-f", "flv", url}
	return startFFmpeg(t, args)
}

// startFFmpeg runs ffmpeg with args until it exits or the test ends.
func startFFmpeg(t *testing.T, args []string) *publisher {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatalf("ffmpeg is required (scripts/test.sh installs it): %v", err)
	}
	p := &publisher{cmd: exec.Command("ffmpeg", args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

func (p *publisher) stop() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exited tells whether ffmpeg ended within d.
func (p *publisher) exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func waitLive(t *testing.T, c *ivs.Client, arn *string, d time.Duration) *types.Stream {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := c.GetStream(context.Background(), &ivs.GetStreamInput{ChannelArn: arn})
		if err == nil {
			return out.Stream
		}
		var nb *types.ChannelNotBroadcasting
		if !errors.As(err, &nb) {
			t.Fatalf("GetStream: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel not live after %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitOffline(t *testing.T, c *ivs.Client, arn *string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := c.GetStream(context.Background(), &ivs.GetStreamInput{ChannelArn: arn})
		var nb *types.ChannelNotBroadcasting
		if errors.As(err, &nb) {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("channel still live after %v (err %v)", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// webhook collects the events the server posts.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("webhook body is not JSON: %s", b)
		}
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// names returns "detail-type/event_name" of the events received for a stream id.
func (w *webhook) names(streamID string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ev := range w.events {
		d, _ := ev["detail"].(map[string]any)
		if d["stream_id"] == streamID {
			out = append(out, fmt.Sprint(ev["detail-type"], "/", d["event_name"]))
		}
	}
	return out
}

func (w *webhook) waitFor(t *testing.T, streamID string, want []string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := w.names(streamID)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events for %s: got %v, want %v", streamID, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var streamIDRE = regexp.MustCompile(`^st-[A-Za-z0-9]{23}$`)

// TestIngestRTMPS: an encoder publishes over RTMPS with the channel's stream key; the stream is live with a new
// stream id, its session describes the real media, events arrive in order, and StopStream cuts it.
func TestIngestRTMPS(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL, "--events-webhook-secret", "hook-secret"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	ch, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("ingest"), Type: types.ChannelTypeBasicChannelType})
	if err != nil {
		t.Fatal(err)
	}
	pub := publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value))
	st := waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	if st.State != types.StreamStateStreamLive || st.Health != types.StreamHealthStreamHealthy || !streamIDRE.MatchString(aws.ToString(st.StreamId)) ||
		aws.ToString(st.PlaybackUrl) != aws.ToString(ch.Channel.PlaybackUrl) || st.StartTime == nil {
		t.Fatalf("GetStream: %+v", st)
	}
	if strings.Contains(s.Log(), aws.ToString(ch.StreamKey.Value)) {
		t.Fatal("the stream key appears in the server log")
	}
	list, err := c.ListStreams(ctx, &ivs.ListStreamsInput{})
	if err != nil || len(list.Streams) != 1 || aws.ToString(list.Streams[0].StreamId) != aws.ToString(st.StreamId) {
		t.Fatalf("ListStreams: %+v %v", list, err)
	}
	healthy, err := c.ListStreams(ctx, &ivs.ListStreamsInput{FilterBy: &types.StreamFilters{Health: types.StreamHealthStarving}})
	if err != nil || len(healthy.Streams) != 0 {
		t.Fatalf("ListStreams filtered by STARVING: %+v %v", healthy, err)
	}
	// A live channel cannot be deleted or updated.
	if _, err := c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: ch.Channel.Arn}); err == nil {
		t.Fatal("DeleteChannel of a live channel succeeded")
	} else if code, status := apiErr(t, err); code != "ConflictException" || status != 409 {
		t.Fatalf("DeleteChannel of a live channel: %s %d", code, status)
	}
	// The session describes the media as it is: H.264 High, 640x360, AAC LC 44.1 kHz stereo, the encoder's name.
	var sess *ivs.GetStreamSessionOutput
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) { // until measured
		sess, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn})
		if err != nil {
			t.Fatal(err)
		}
		if vc := sess.StreamSession.IngestConfigurations.VideoConfigurations; len(vc) > 0 && vc[0].TargetBitrate > 0 || time.Now().After(deadline) {
			break
		}
	}
	ss := sess.StreamSession
	if aws.ToString(ss.StreamId) != aws.ToString(st.StreamId) || ss.EndTime != nil || aws.ToString(ss.Channel.Arn) != aws.ToString(ch.Channel.Arn) {
		t.Fatalf("GetStreamSession: %+v", ss)
	}
	if len(ss.IngestConfigurations.VideoConfigurations) != 1 || len(ss.IngestConfigurations.AudioConfigurations) != 1 {
		t.Fatalf("ingestConfigurations: %+v", ss.IngestConfigurations)
	}
	v, a := ss.IngestConfigurations.VideoConfigurations[0], ss.IngestConfigurations.AudioConfigurations[0]
	if !strings.HasPrefix(aws.ToString(v.Codec), "avc1.64") || aws.ToString(v.Profile) != "High" || v.VideoWidth != 640 || v.VideoHeight != 360 ||
		!strings.HasPrefix(aws.ToString(v.Encoder), "Lavf") || aws.ToString(v.Track) != "Track0" {
		t.Fatalf("video configuration: codec %s profile %s level %s %dx%d encoder %s", aws.ToString(v.Codec), aws.ToString(v.Profile),
			aws.ToString(v.Level), v.VideoWidth, v.VideoHeight, aws.ToString(v.Encoder))
	}
	if v.TargetFramerate < 25 || v.TargetFramerate > 35 || v.TargetBitrate < 200_000 || v.TargetBitrate > 3_000_000 {
		t.Fatalf("measured video: %d fps, %d bps", v.TargetFramerate, v.TargetBitrate)
	}
	if aws.ToString(a.Codec) != "mp4a.40.2" || a.SampleRate != 44100 || a.Channels != 2 {
		t.Fatalf("audio configuration: %s %d Hz %d channels", aws.ToString(a.Codec), a.SampleRate, a.Channels)
	}

	// StopStream disconnects the encoder within a second.
	if _, err := c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: ch.Channel.Arn}); err != nil {
		t.Fatal(err)
	}
	if d := waitOffline(t, c, ch.Channel.Arn, 5*time.Second); d > time.Second {
		t.Errorf("still live %v after StopStream", d)
	}
	if !pub.exited(5 * time.Second) {
		t.Error("ffmpeg still running after StopStream: the connection was not closed")
	}
	sess, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn, StreamId: st.StreamId})
	if err != nil || sess.StreamSession.EndTime == nil {
		t.Fatalf("session after the end: %+v %v", sess, err)
	}
	var names []string
	for _, e := range sess.StreamSession.TruncatedEvents {
		names = append(names, aws.ToString(e.Name))
	}
	if strings.Join(names, ",") != "Session Ended,Stream End,Stream Start,Session Created" {
		t.Fatalf("truncatedEvents (newest first): %v", names)
	}
	hook.waitFor(t, aws.ToString(st.StreamId), []string{
		"IVS Stream State Change/Session Created", "IVS Stream State Change/Stream Start",
		"IVS Stream State Change/Stream End", "IVS Stream State Change/Session Ended"}, 10*time.Second)
	ls, err := c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: ch.Channel.Arn})
	if err != nil || len(ls.StreamSessions) != 1 || ls.StreamSessions[0].EndTime == nil {
		t.Fatalf("ListStreamSessions: %+v %v", ls, err)
	}

	// A reconnect is a new stream.
	publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value))
	st2 := waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	if aws.ToString(st2.StreamId) == aws.ToString(st.StreamId) {
		t.Fatal("a reconnect kept the stream id")
	}
}

// TestIngestRefusals: a wrong key, plain RTMP to a channel without insecureIngest, and a second publisher are
// refused; the server keeps serving.
func TestIngestRefusals(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	secure, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("secure"), Type: types.ChannelTypeBasicChannelType})
	if err != nil {
		t.Fatal(err)
	}
	insecure, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("insecure"), Type: types.ChannelTypeBasicChannelType, InsecureIngest: true})
	if err != nil {
		t.Fatal(err)
	}
	key := aws.ToString(secure.StreamKey.Value)
	for _, tc := range []struct{ name, url string }{
		{"wrong key", "rtmps://" + s.RTMPS + "/app/" + otherLast(key)},
		{"unknown key", "rtmps://" + s.RTMPS + "/app/sk_us-west-2_abcdefghijkl_abcdefghijklmnopqrstuvwxyz1234"},
		{"plain RTMP without insecureIngest", "rtmp://" + s.RTMP + "/app/" + key},
		{"wrong app", "rtmps://" + s.RTMPS + "/live/" + key},
	} {
		p := publish(t, tc.url)
		if !p.exited(10 * time.Second) {
			t.Errorf("%s: ffmpeg still publishing", tc.name)
		}
		if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: secure.Channel.Arn}); err == nil {
			t.Fatalf("%s: the channel went live", tc.name)
		}
	}
	if !strings.Contains(s.Log(), "does not allow insecure ingest") || strings.Contains(s.Log(), key) {
		t.Errorf("refusals are not logged, or the key is:\n%s", s.Log())
	}
	// Plain RTMP works for a channel with insecureIngest; a second publisher is refused while it is live.
	first := publish(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(insecure.StreamKey.Value))
	st := waitLive(t, c, insecure.Channel.Arn, 20*time.Second)
	second := publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(insecure.StreamKey.Value))
	if !second.exited(10 * time.Second) {
		t.Error("a second publisher was accepted")
	}
	if first.exited(0) {
		t.Fatalf("the first publisher was cut by the second: %s", first.out.String())
	}
	now := waitLive(t, c, insecure.Channel.Arn, time.Second)
	if aws.ToString(now.StreamId) != aws.ToString(st.StreamId) {
		t.Fatal("the second publisher took over the stream")
	}
	// A deleted stream key stops authenticating.
	if _, err := c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: secure.StreamKey.Arn}); err != nil {
		t.Fatal(err)
	}
	p := publish(t, "rtmps://"+s.RTMPS+"/app/"+key)
	if !p.exited(10 * time.Second) {
		t.Error("a deleted stream key still publishes")
	}
}

func waitHealth(t *testing.T, c *ivs.Client, arn *string, want types.StreamHealth, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := c.GetStream(context.Background(), &ivs.GetStreamInput{ChannelArn: arn})
		if err == nil && out.Stream.Health == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health not %s after %v (%+v, %v)", want, d, out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestIngestStarvation: an encoder that stops sending (paused with SIGSTOP: the connection stays open) makes the
// stream STARVING with a Starvation Start event, HEALTHY again with Starvation End when it resumes, and is
// disconnected after 30 s without media.
func TestIngestStarvation(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	ch, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("starve"), Type: types.ChannelTypeBasicChannelType})
	if err != nil {
		t.Fatal(err)
	}
	pub := publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value))
	st := waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	id := aws.ToString(st.StreamId)

	pub.cmd.Process.Signal(syscall.SIGSTOP)
	waitHealth(t, c, ch.Channel.Arn, types.StreamHealthStarving, 10*time.Second)
	starving, err := c.ListStreams(ctx, &ivs.ListStreamsInput{FilterBy: &types.StreamFilters{Health: types.StreamHealthStarving}})
	if err != nil || len(starving.Streams) != 1 {
		t.Fatalf("ListStreams filtered by STARVING: %+v %v", starving, err)
	}
	pub.cmd.Process.Signal(syscall.SIGCONT)
	waitHealth(t, c, ch.Channel.Arn, types.StreamHealthStreamHealthy, 10*time.Second)
	hook.waitFor(t, id, []string{"IVS Stream State Change/Session Created", "IVS Stream State Change/Stream Start",
		"IVS Stream Health Change/Starvation Start", "IVS Stream Health Change/Starvation End"}, 10*time.Second)

	// Silent for good: disconnected about 30 s after the last media.
	pub.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	d := waitOffline(t, c, ch.Channel.Arn, 45*time.Second)
	if d < 28*time.Second {
		t.Errorf("disconnected %v after the media stopped; IVS waits 30 s", time.Since(stopped))
	}
	pub.cmd.Process.Signal(syscall.SIGCONT)
	hook.waitFor(t, id, []string{"IVS Stream State Change/Session Created", "IVS Stream State Change/Stream Start",
		"IVS Stream Health Change/Starvation Start", "IVS Stream Health Change/Starvation End",
		"IVS Stream Health Change/Starvation Start", "IVS Stream State Change/Stream End",
		"IVS Stream State Change/Session Ended"}, 10*time.Second)
}

// otherLast returns s with its last character changed: a key or ARN that is surely not s (appending a fixed
// character would leave s unchanged whenever it already ends in that character).
func otherLast(s string) string {
	last := byte('x')
	if s[len(s)-1] == last {
		last = 'y'
	}
	return s[:len(s)-1] + string(last)
}

// publishSRT publishes MPEG-TS over SRT, as IVS documents: srt://<endpoint>?streamid=<key>&passphrase=<passphrase>.
func publishSRT(t *testing.T, addr, key, passphrase string) *publisher {
	t.Helper()
	u := "srt://" + addr + "?mode=caller&streamid=" + key
	if passphrase != "" {
		u += "&passphrase=" + passphrase
	}
	args := []string{"-hide_banner", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "30", "-b:v", "800k",
		"-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2", "-f", "mpegts", u}
	return startFFmpeg(t, args)
}

// TestIngestSRT: SRT with the stream key as streamid and the channel's passphrase goes live and is described from
// the MPEG-TS; without the passphrase, or with a wrong one, it is refused unless the channel allows insecure ingest.
func TestIngestSRT(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	ch, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("srt"), Type: types.ChannelTypeBasicChannelType})
	if err != nil {
		t.Fatal(err)
	}
	key, pass := aws.ToString(ch.StreamKey.Value), aws.ToString(ch.Channel.Srt.Passphrase)
	if !strings.HasSuffix(s.SRT, aws.ToString(ch.Channel.Srt.Endpoint)[strings.LastIndex(aws.ToString(ch.Channel.Srt.Endpoint), ":"):]) {
		t.Fatalf("srt.endpoint %s does not name the SRT listener %s", aws.ToString(ch.Channel.Srt.Endpoint), s.SRT)
	}
	for name, p := range map[string]*publisher{
		"no passphrase":    publishSRT(t, s.SRT, key, ""),
		"wrong passphrase": publishSRT(t, s.SRT, key, strings.Repeat("x", len(pass))),
		"wrong key":        publishSRT(t, s.SRT, otherLast(key), pass),
	} {
		if !p.exited(15 * time.Second) {
			t.Errorf("%s: ffmpeg still publishing", name)
		}
	}
	if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: ch.Channel.Arn}); err == nil {
		t.Fatal("a refused SRT publisher made the channel live")
	}
	publishSRT(t, s.SRT, key, pass)
	st := waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	if !streamIDRE.MatchString(aws.ToString(st.StreamId)) {
		t.Fatalf("GetStream: %+v", st)
	}
	sess, err := c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: ch.Channel.Arn})
	if err != nil {
		t.Fatal(err)
	}
	v, a := sess.StreamSession.IngestConfigurations.VideoConfigurations, sess.StreamSession.IngestConfigurations.AudioConfigurations
	if len(v) != 1 || v[0].VideoWidth != 640 || v[0].VideoHeight != 360 || !strings.HasPrefix(aws.ToString(v[0].Codec), "avc1.") ||
		len(a) != 1 || aws.ToString(a[0].Codec) != "mp4a.40.2" || a[0].SampleRate != 48000 || a[0].Channels != 2 {
		t.Fatalf("ingest configurations from SRT: %+v %+v", v, a)
	}
	if strings.Contains(s.Log(), key) || strings.Contains(s.Log(), pass) {
		t.Fatal("the stream key or the SRT passphrase appears in the log")
	}
	if _, err := c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: ch.Channel.Arn}); err != nil {
		t.Fatal(err)
	}
	waitOffline(t, c, ch.Channel.Arn, 5*time.Second)
}

// limitBreaches returns the IVS Limit Breach events received.
func (w *webhook) limitBreaches() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, ev := range w.events {
		if ev["detail-type"] == "IVS Limit Breach" {
			out = append(out, ev["detail"].(map[string]any))
		}
	}
	return out
}

func (w *webhook) waitBreach(t *testing.T, limit string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, d := range w.limitBreaches() {
			if d["limit_name"] == limit {
				return d
			}
		}
	}
	t.Fatalf("no IVS Limit Breach for %q; got %v", limit, w.limitBreaches())
	return nil
}

// TestIngestLimitsAndGarbage: garbage thrown at every listener closes those connections and nothing else; the
// account's concurrent-stream quota and a channel type's resolution limit refuse publishers with IVS Limit Breach.
func TestIngestLimitsAndGarbage(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL, "--quota-concurrent-streams", "1"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)

	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*131 + i/7)
	}
	for _, addr := range []string{s.RTMP, s.RTMPS} {
		for _, payload := range [][]byte{junk, append([]byte{3}, junk[:1600]...), []byte("GET / HTTP/1.1\r\n\r\n")} {
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(3 * time.Second))
			conn.Write(payload)
			io.Copy(io.Discard, conn) // until the server closes it
			conn.Close()
		}
	}
	tc, err := tls.Dial("tcp", s.RTMPS, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("RTMPS TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Now().Add(3 * time.Second))
	tc.Write(junk)
	io.Copy(io.Discard, tc)
	tc.Close()
	uc, err := net.Dial("udp", s.SRT)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		uc.Write(junk[i*100 : i*100+1316])
	}
	uc.Close()

	a, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("a"), Type: types.ChannelTypeStandardChannelType})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("b"), Type: types.ChannelTypeStandardChannelType})
	if err != nil {
		t.Fatal(err)
	}
	// The server still serves after the garbage: a real encoder goes live.
	publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(a.StreamKey.Value))
	waitLive(t, c, a.Channel.Arn, 20*time.Second)
	// The account's quota of 1 concurrent stream refuses a second channel.
	second := publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(b.StreamKey.Value))
	if !second.exited(10 * time.Second) {
		t.Fatal("a stream over the concurrent-stream quota was accepted")
	}
	d := hook.waitBreach(t, "Concurrent Broadcasts")
	if d["limit_unit"] != "active streams" || d["limit_value"] != float64(1) {
		t.Fatalf("Concurrent Broadcasts breach: %v", d)
	}
	if _, err := c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: a.Channel.Arn}); err != nil {
		t.Fatal(err)
	}
	waitOffline(t, c, a.Channel.Arn, 5*time.Second)

	// 2560x1440 is over every channel type's 1080p limit.
	big := publishSize(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(b.StreamKey.Value), "2560x1440")
	if !big.exited(20 * time.Second) {
		t.Fatal("a 1440p stream was accepted")
	}
	d = hook.waitBreach(t, "Ingest Resolution")
	if d["limit_unit"] != "total pixels" || d["limit_value"] != float64(1920*1080) || d["channel_name"] != "b" {
		t.Fatalf("Ingest Resolution breach: %v", d)
	}
	if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: b.Channel.Arn}); err == nil {
		t.Fatal("the over-limit stream is live")
	}
}

// TestIngestBitrateLimit: a BASIC channel at 480p or less takes 1.5 Mbps (IVS's limit); a sustained 2.5 Mbps
// stream is disconnected with an Ingest Bitrate Limit Breach.
func TestIngestBitrateLimit(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	ch, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("basic"), Type: types.ChannelTypeBasicChannelType})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-hide_banner", "-loglevel", "warning", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2500k", "-minrate", "2500k", "-maxrate", "2500k", "-bufsize", "500k",
		"-x264-params", "nal-hrd=cbr", "-g", "30", "-f", "flv", "rtmps://" + s.RTMPS + "/app/" + aws.ToString(ch.StreamKey.Value)}
	p := startFFmpeg(t, args)
	waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	d := hook.waitBreach(t, "Ingest Bitrate")
	if d["limit_unit"] != "bits per second" || d["limit_value"] != float64(1_500_000) || d["exceeded_by"].(float64) <= 0 {
		t.Fatalf("Ingest Bitrate breach: %v", d)
	}
	waitOffline(t, c, ch.Channel.Arn, 10*time.Second)
	if !p.exited(10 * time.Second) {
		t.Fatal("the encoder over the bitrate limit was not disconnected")
	}
}
