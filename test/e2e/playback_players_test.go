package e2e

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/openivs/openivs/internal/hls"
)

// metadataSender calls PutMetadata every interval while a player watches, remembering what it sent and when.
type metadataSender struct {
	mu   sync.Mutex
	sent map[string]time.Time
}

func sendMetadata(ctx context.Context, t *testing.T, c *ivs.Client, channelARN *string, every time.Duration) *metadataSender {
	m := &metadataSender{sent: map[string]time.Time{}}
	go func() {
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			payload := fmt.Sprintf(`{"n":%d,"question":"Ünïcode ✓ %d"}`, i, time.Now().UnixNano())
			m.mu.Lock()
			m.sent[payload] = time.Now() // before the call: a call cut by the end of the watch may still have landed
			m.mu.Unlock()
			if _, err := c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: channelARN, Metadata: aws.String(payload)}); err != nil {
				if ctx.Err() == nil {
					t.Errorf("PutMetadata: %v", err)
				}
				return
			}
		}
	}()
	return m
}

// checkCues asserts that cues arrived and that each carries exactly a payload that was sent; it returns the
// send-to-cue delays.
func (m *metadataSender) checkCues(t *testing.T, player PlayerKind, res *PlayResult) []time.Duration {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var delays []time.Duration
	for _, c := range res.Cues {
		if _, ok := hls.TXXX(c.Raw); player == HLSJS && !ok {
			continue // the segment heartbeat (a PRIV frame), not a PutMetadata cue
		}
		at, ok := m.sent[c.Text]
		if !ok {
			t.Errorf("%s: a cue carries %q, which was never sent", player, c.Text)
			continue
		}
		if player == HLSJS {
			if v, ok := hls.TXXX(c.Raw); !ok || string(v) != c.Text {
				t.Errorf("hls.js cue's raw ID3 does not hold the payload: %q", c.Raw)
			}
		}
		delays = append(delays, time.UnixMilli(c.WallMs).Sub(at))
	}
	if len(delays) == 0 {
		t.Errorf("%s: no PutMetadata cue arrived (%d sent)", player, len(m.sent))
	}
	return delays
}

// TestRealPlayersPlayEveryMode: hls.js and the official IVS web player play LOW and NORMAL latency, TS and fMP4
// channels from the playbackUrl, without error, and receive PutMetadata payloads as cues with the exact bytes.
func TestRealPlayersPlayEveryMode(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	for _, tc := range []struct {
		latency   types.ChannelLatencyMode
		container types.ContainerFormat
	}{
		{types.ChannelLatencyModeLowLatency, types.ContainerFormatTs},
		{types.ChannelLatencyModeLowLatency, types.ContainerFormatFragmentedMP4},
		{types.ChannelLatencyModeNormalLatency, types.ContainerFormatTs},
		{types.ChannelLatencyModeNormalLatency, types.ContainerFormatFragmentedMP4},
	} {
		t.Run(string(tc.latency)+"/"+string(tc.container), func(t *testing.T) {
			ch := liveChannel(t, s, c, &ivs.CreateChannelInput{LatencyMode: tc.latency, ContainerFormat: tc.container})
			ll := tc.latency == types.ChannelLatencyModeLowLatency
			// one sender for the channel: a player may show cues sent while the previous one watched
			ctx, cancel := context.WithCancel(Ctx(t))
			defer cancel()
			meta := sendMetadata(ctx, t, c, ch.Channel.Arn, 1500*time.Millisecond)
			for _, player := range []PlayerKind{HLSJS, IVSPlayer} {
				res, err := Play(ctx, t, PlayOptions{URL: aws.ToString(ch.Channel.PlaybackUrl), Player: player, LowLatency: ll, Duration: 14 * time.Second})
				if err != nil {
					t.Fatalf("%s: %v", player, err)
				}
				if res.Fatal || res.Advanced() < 6 {
					t.Errorf("%s: played %.1f s of 14, fatal=%v errors=%v", player, res.Advanced(), res.Fatal, res.Errors)
				}
				delays := meta.checkCues(t, player, res)
				var lat []string
				for _, s := range res.Samples[len(res.Samples)/2:] {
					lat = append(lat, fmt.Sprintf("%.2f", s.Latency))
				}
				t.Logf("%s %s/%s: played %.1f s, %d cues, send→cue %v, player latency %s", player, tc.latency, tc.container,
					res.Advanced(), len(res.Cues), delays, strings.Join(lat[:min(len(lat), 6)], " "))
			}
		})
	}
}

// TestRealPlayersPrivateChannel: a private channel plays in hls.js and the IVS player with a valid token, does
// not play with a bad one, and a revoked viewer stops playing within seconds.
func TestRealPlayersPrivateChannel(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	key, _ := playbackKey(t, c)
	ch := liveChannel(t, s, c, &ivs.CreateChannelInput{Authorized: true})
	chARN := aws.ToString(ch.Channel.Arn)
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	token := func(k *ecdsa.PrivateKey, claims jwt.MapClaims) string {
		return pb + "?token=" + url.QueryEscape(viewerToken(t, k, jwt.SigningMethodES384, claims))
	}
	valid := jwt.MapClaims{"aws:channel-arn": chARN, "exp": time.Now().Add(time.Hour).Unix()}
	for _, player := range []PlayerKind{HLSJS, IVSPlayer} {
		res, err := Play(Ctx(t), t, PlayOptions{URL: token(key, valid), Player: player, LowLatency: true, Duration: 8 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fatal || res.Advanced() < 3 {
			t.Errorf("%s with a valid token: played %.1f s, errors %v, requests %v", player, res.Advanced(), res.Errors, res.Requests)
		}
		expired := jwt.MapClaims{"aws:channel-arn": chARN, "exp": time.Now().Add(-time.Minute).Unix()}
		res, err = Play(Ctx(t), t, PlayOptions{URL: token(key, expired), Player: player, LowLatency: true, Duration: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Advanced() > 0.5 || len(res.Errors) == 0 {
			t.Errorf("%s with an expired token: played %.1f s, errors %v", player, res.Advanced(), res.Errors)
		}
	}

	// Revocation while playing (hls.js): playback stops within seconds of StartViewerSessionRevocation.
	viewer := jwt.MapClaims{"aws:channel-arn": chARN, "exp": time.Now().Add(9 * time.Minute).Unix(), "aws:viewer-id": "bob", "aws:viewer-session-version": 3}
	var revokedAt time.Time
	go func() {
		time.Sleep(8 * time.Second)
		revokedAt = time.Now()
		if _, err := c.StartViewerSessionRevocation(context.Background(), &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(chARN),
			ViewerId: aws.String("bob"), ViewerSessionVersionsLessThanOrEqualTo: 3}); err != nil {
			t.Errorf("StartViewerSessionRevocation: %v", err)
		}
	}()
	res, err := Play(Ctx(t), t, PlayOptions{URL: token(key, viewer), Player: HLSJS, LowLatency: true, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	refusedAt := time.Time{}
	for _, r := range res.Requests {
		if r.Status == 403 {
			refusedAt = time.Now() // the request log has no times: judge by playback below
			break
		}
	}
	if refusedAt.IsZero() {
		t.Fatalf("no request was refused after the revocation: %v", res.Errors)
	}
	// The playhead stops: over the last 6 s of the 20 s watch, it moved less than buffered media allows.
	last := res.Samples[len(res.Samples)-1]
	var before PlayerSample
	for _, s := range res.Samples {
		if time.UnixMilli(s.WallMs).Before(time.UnixMilli(last.WallMs).Add(-6 * time.Second)) {
			before = s
		}
	}
	if moved := last.CurrentTime - before.CurrentTime; moved > 3 {
		t.Errorf("a revoked viewer kept playing: %.1f s in the last 6 s (revoked at %v)", moved, revokedAt.Format(time.TimeOnly))
	}
}
