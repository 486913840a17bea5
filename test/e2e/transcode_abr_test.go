package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// standardLadderHeights are the renditions a 1080p30 source gets on a STANDARD channel: the source and the
// 720p30, 480p30, 360p30 and 160p30 rungs.
var standardLadderHeights = []int{1080, 720, 480, 360, 160}

var resolutionAttr = regexp.MustCompile(`RESOLUTION=\d+x(\d+)`)

// waitLadder polls the multivariant playlist (each request opens a new session) until it lists a variant of each
// of the given heights, and returns it.
func waitLadder(t *testing.T, playbackURL string, heights []int, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		resp, err := http.Get(playbackURL)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d\n%s", resp.StatusCode, b)
			var got []int
			for _, m := range resolutionAttr.FindAllStringSubmatch(string(b), -1) {
				h, _ := strconv.Atoi(m[1])
				got = append(got, h)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(heights))
			if resp.StatusCode == 200 && slices.Equal(got, want) {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the multivariant playlist did not list renditions of heights %v within %v; last answer: %s", heights, d, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// samplesBetween returns the samples taken in [from, to) (wall clock, ms), as a PlayResult for Advanced.
func samplesBetween(res *PlayResult, from, to int64) *PlayResult {
	out := &PlayResult{}
	for _, s := range res.Samples {
		if s.WallMs >= from && s.WallMs < to {
			out.Samples = append(out.Samples, s)
		}
	}
	return out
}

// TestTranscodeABRSwitching: a 1080p30 stream on a STANDARD channel plays in hls.js with IVS's five renditions,
// and hls.js's ABR moves between them when the browser's network is throttled: down to a rendition that fits the
// throttle while it lasts, up to 720p or more once it is lifted, without a fatal error.
func TestTranscodeABRSwitching(t *testing.T) {
	t.Parallel()
	// The heaviest ffmpeg test (a 1080p encoder, the server's five-rung transcoder and a browser decoding up to
	// 1080p on 2 cores): it takes both encoder slots so no other encoder competes with it.
	encoderSlot(t)
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ch, err := c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{Type: types.ChannelTypeStandardChannelType,
		LatencyMode: types.ChannelLatencyModeLowLatency, ContainerFormat: types.ContainerFormatTs})
	if err != nil {
		t.Fatal(err)
	}
	// ultrafast and 4 Mbit/s keep the publisher's CPU low (the transcoder needs about 0.6 of a core).
	publishEncoded(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value), "1920x1080", "ultrafast", "4000k")
	waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	mv := waitLadder(t, pb, standardLadderHeights, 60*time.Second)
	t.Logf("multivariant playlist:\n%s", mv)

	// 900 kbit/s is well below the 720p30 rung (2.4 Mbit/s) and the 480p30 one (1.4 Mbit/s): the 360p30 rung
	// (630 + 64 kbit/s) and 160p30 fit.
	const throttleKbps = 900
	// 12 s unthrottled (hls.js climbs to the top), 15 s throttled, 28 s released: the climb back takes longer than
	// the fall (see HLSJSConfig; in trials 720p played 14-15 s after the release), and LEVEL_SWITCHED comes when
	// the playhead reaches the new level, seconds after hls.js chose it.
	const watch = 55 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), watch+90*time.Second)
	defer cancel()
	res, err := Play(ctx, t, PlayOptions{URL: pb, Player: HLSJS, LowLatency: true, Duration: watch,
		Throttle: []ThrottleStep{{At: 12 * time.Second, KbitPerSec: throttleKbps}, {At: 27 * time.Second}},
		// hls.js's bandwidth estimate is two EWMAs (it takes the lower) whose half-lives count seconds spent
		// loading, not wall time: unthrottled, a low-latency player at the live edge spends a few tens of ms a
		// second loading parts, so with the defaults (3 s and 9 s) the estimate takes minutes to climb back after
		// a throttle (in a trial, 20 s after the release it had only reached 360p). Short half-lives let it
		// recover within the test's window (in trials, 480p about 12 s after the release, then 720p or more);
		// the down-switch does not need them (throttled loads take long, so they weigh heavily anyway).
		HLSJSConfig: map[string]any{"abrEwmaFastLive": 0.5, "abrEwmaSlowLive": 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Throttled) != 2 {
		t.Fatalf("throttle steps applied: %+v, want 2", res.Throttled)
	}
	throttledAt, releasedAt := res.Throttled[0].WallMs, res.Throttled[1].WallMs
	wall := func(ms int64) string { return time.UnixMilli(ms).Format("15:04:05.000") }
	var sw []string
	for _, s := range res.Switches {
		sw = append(sw, fmt.Sprintf("%s %dp (%d bit/s)", wall(s.WallMs), s.Height, s.Bitrate))
	}
	t.Logf("levels %+v; throttled %s, released %s; switches: %s", res.Levels, wall(throttledAt), wall(releasedAt), strings.Join(sw, ", "))
	var est []string
	for i, s := range res.Samples {
		if i%4 == 0 { // one a second
			est = append(est, fmt.Sprintf("%s %.0fk", wall(s.WallMs)[6:8], s.BandwidthEstimate/1000))
		}
	}
	t.Logf("bandwidth estimate (second of the minute, kbit/s): %s", strings.Join(est, " "))

	if res.Fatal {
		t.Errorf("fatal error: %q", res.Errors)
	}
	var heights []int
	for _, l := range res.Levels {
		heights = append(heights, l.Height)
	}
	slices.Sort(heights)
	if want := slices.Sorted(slices.Values(standardLadderHeights)); !slices.Equal(heights, want) {
		t.Errorf("hls.js levels have heights %v, want %v", heights, want)
	}

	// The throttle reached hls.js's requests: its bandwidth estimate, well above the throttle's rate before, was
	// about that rate at the end of the throttle (15 s of throttled loads).
	maxEstBefore, estEnd := 0.0, -1.0
	for _, s := range res.Samples {
		if s.WallMs < throttledAt {
			maxEstBefore = max(maxEstBefore, s.BandwidthEstimate)
		} else if s.WallMs < releasedAt {
			estEnd = s.BandwidthEstimate
		}
	}
	t.Logf("bandwidth estimate: up to %.0f bit/s before the throttle, %.0f bit/s at its end", maxEstBefore, estEnd)
	if estEnd <= 0 || estEnd > 1.5*throttleKbps*1000 {
		t.Errorf("hls.js's bandwidth estimate was %.0f bit/s at the end of a %d kbit/s throttle", estEnd, throttleKbps)
	}
	if maxEstBefore < 3*throttleKbps*1000 {
		t.Errorf("hls.js's bandwidth estimate was at most %.0f bit/s before the throttle: not a test of it", maxEstBefore)
	}

	// Down: while throttled (or within a few seconds of the release, the media buffered before it still
	// playing: LEVEL_SWITCHED fires when the playhead reaches the new level), hls.js switched from a level that
	// did not fit the throttle to one that did.
	levelBefore := func(ms int64) *LevelSwitch {
		var l *LevelSwitch
		for i := range res.Switches {
			if res.Switches[i].WallMs < ms {
				l = &res.Switches[i]
			}
		}
		return l
	}
	const grace = 6000
	var down *LevelSwitch
	for i, s := range res.Switches {
		if s.WallMs >= throttledAt && s.WallMs < releasedAt+grace && s.Height <= 480 && s.Bitrate <= throttleKbps*1000 {
			down = &res.Switches[i]
			break
		}
	}
	if down == nil {
		t.Errorf("no switch to a level of at most 480p and %d kbit/s while throttled", throttleKbps)
	} else if prev := levelBefore(down.WallMs); prev == nil || prev.Bitrate <= throttleKbps*1000 {
		t.Errorf("the switch to %dp at %s was not a switch down from a level above the throttle (before it: %+v)", down.Height, wall(down.WallMs), prev)
	}

	// Up: after the release, hls.js switched to 720p or more.
	var up *LevelSwitch
	for i, s := range res.Switches {
		if s.WallMs >= releasedAt && s.Height >= 720 {
			up = &res.Switches[i]
			break
		}
	}
	if up == nil {
		t.Errorf("no switch to 720p or more after the throttle was released")
	}

	// Playback went on across the switches.
	first, last := res.Samples[0].WallMs, res.Samples[len(res.Samples)-1].WallMs
	adv := res.Advanced()
	advThrottled := samplesBetween(res, throttledAt, releasedAt).Advanced()
	advAfter := samplesBetween(res, releasedAt, last+1).Advanced()
	t.Logf("played %.1f s in %.1f s: %.1f s of %.1f s throttled, %.1f s of %.1f s after", adv, float64(last-first)/1000,
		advThrottled, float64(releasedAt-throttledAt)/1000, advAfter, float64(last-releasedAt)/1000)
	if adv < watch.Seconds()/2 || advThrottled < 5 || advAfter < 5 {
		t.Errorf("playback did not go on across the switches: played %.1f s of %v, %.1f s throttled, %.1f s after", adv, watch, advThrottled, advAfter)
	}
}
