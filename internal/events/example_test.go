package events_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// How the server wires events: sinks from the configuration, a Bus on the store's outbox, Close on shutdown.
func ExampleNewBus() {
	ctx := context.Background()
	log := slog.Default()
	st, err := sqlite.Open(ctx, "/var/lib/openivs/openivs.db", log)
	if err != nil {
		return
	}
	defer st.Close()
	sinks, err := events.NewSinks(events.SinkConfig{
		Log:           true,
		Logger:        log,
		WebhookURL:    "https://hooks.example.com/ivs",
		WebhookSecret: "from OPENIVS_EVENTS_WEBHOOK_SECRET",
	})
	if err != nil {
		return
	}
	bus := events.NewBus(st, sinks, log)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bus.Close(ctx) // before st.Close
	}()

	// A producer (ingest) reports a stream start:
	channelARN := "arn:aws:ivs:us-west-2:123456789012:channel/AbCdef1G2hij"
	o, _ := events.OriginOf(channelARN, time.Now())
	_ = bus.Publish(ctx, events.StreamStart(o, events.Stream{
		ChannelARN: channelARN, ChannelName: "my-channel", StreamID: "st-1A2b3c4D5e6F78ghij9Klmn",
	}))
}
