package transcode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestQueueDropsToKeyframe fills the queue of a session without ffmpeg: frames are dropped up to the next
// keyframe that fits, with one warning per episode, and the ingest goroutine never waits.
func TestQueueDropsToKeyframe(t *testing.T) {
	var logs bytes.Buffer
	s := &Session{queue: make(chan frame, 4), draining: make(chan struct{}), done: make(chan struct{}),
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	idr := [][]byte{{0x65, 1}}
	p := [][]byte{{0x41, 1}}
	ms := time.Millisecond
	start := time.Now()
	s.WriteVideo(0, 0, idr)
	s.WriteVideo(33*ms, 33*ms, p)
	s.WriteAAC(10*ms, []byte{1})
	s.WriteVideo(66*ms, 66*ms, p) // the queue is full now
	s.WriteVideo(100*ms, 100*ms, p)
	s.WriteAAC(110*ms, []byte{2})
	s.WriteVideo(133*ms, 133*ms, idr) // still full: the keyframe is dropped too
	<-s.queue
	<-s.queue
	s.WriteVideo(166*ms, 166*ms, p) // room, but no keyframe yet
	s.WriteAAC(170*ms, []byte{3})
	s.WriteVideo(200*ms, 200*ms, idr) // the keyframe resumes the feed
	s.WriteVideo(233*ms, 233*ms, p)
	s.WriteVideo(266*ms, 266*ms, p) // full again: a second episode
	if d := time.Since(start); d > 100*ms {
		t.Errorf("writes took %v", d)
	}
	var got []time.Duration
	for len(s.queue) > 0 {
		got = append(got, (<-s.queue).pts)
	}
	if want := []time.Duration{10 * ms, 66 * ms, 200 * ms, 233 * ms}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] ||
		got[2] != want[2] || got[3] != want[3] {
		t.Errorf("queued %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "falls behind"); n != 2 {
		t.Errorf("%d warnings, want one per episode (2):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "dropped_frames=5") {
		t.Errorf("the first episode's count is not logged:\n%s", logs.String())
	}
	close(s.draining)
	s.WriteVideo(300*ms, 300*ms, idr) // after Close: nothing queued, no block
	if len(s.queue) != 0 {
		t.Error("queued after close")
	}
}
