package events

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode feeds Decode arbitrary bytes, as a corrupted outbox payload or a hostile webhook peer could. Decode
// must not panic, and what it accepts must survive a JSON round trip unchanged (after the one normalisation JSON
// does: time to seconds).
func FuzzDecode(f *testing.F) {
	o := Origin{Account: "123456789012", Region: "us-west-2", Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := Stream{ChannelARN: "arn:aws:ivs:us-west-2:123456789012:channel/AbCdef1G2hij", ChannelName: "<c & d>",
		StreamID: "st-1A2b3c4D5e6F78ghij9Klmn"}
	for _, e := range []Event{
		SessionCreated(o, s),
		RecordingEnd(o, Recording{Stream: s, BucketName: "b", KeyPrefix: "k", SessionID: "r", DurationMs: 5}),
		AccountLimitBreach(o, Limit{Name: LimitConcurrentViewers, Unit: UnitViewers, Value: 1, ExceededBy: 2}),
	} {
		b, err := e.JSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		if e.Resources == nil || len(e.Detail) == 0 || e.Detail[0] != '{' || e.Time.Location() != time.UTC {
			t.Fatalf("Decode(%q) = %+v: not normalised", b, e)
		}
		_ = e.EventName()
		b1, err := e.JSON()
		if err != nil {
			t.Fatalf("JSON of a decoded event: %v", err)
		}
		e1, err := Decode(b1)
		if err != nil {
			t.Fatalf("Decode(JSON(Decode(%q))) = %v", b, err)
		}
		b2, err := e1.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("not a fixed point:\n%s\n%s", b1, b2)
		}
		if !e1.Time.Equal(e.Time.Truncate(time.Second)) {
			t.Fatalf("time %v became %v", e.Time, e1.Time)
		}
	})
}
