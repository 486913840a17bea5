package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// putEventsMax is the most entries EventBridge accepts in one PutEvents call.
const putEventsMax = 10

// EventBridgeConfig configures an EventBridgeSink; see the EventBridge fields of SinkConfig.
type EventBridgeConfig struct {
	Bus                                        string // default "default"
	Endpoint                                   string // default: the region's AWS endpoint
	Region                                     string // default: from the AWS environment
	AccessKeyID, SecretAccessKey, SessionToken string // default: the SDK's credential chain
	Source                                     string // default "aws.ivs"
	Timeout                                    time.Duration
	HTTPClient                                 aws.HTTPClient
}

// EventBridgeSink puts events on an EventBridge bus with PutEvents, up to 10 per call, in order. Entries that
// EventBridge reports as failed (FailedEntryCount > 0) are put again; see Deliver.
type EventBridgeSink struct {
	client  *eventbridge.Client
	bus     string
	source  string
	timeout time.Duration
}

// NewEventBridgeSink makes the client. ctx bounds loading the default AWS configuration (when no static
// credentials or region are given); no request is made.
func NewEventBridgeSink(ctx context.Context, c EventBridgeConfig) (*EventBridgeSink, error) {
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("events: EventBridge: set both the access key id and the secret access key, or neither")
	}
	var cfg aws.Config
	if c.AccessKeyID != "" && c.Region != "" {
		cfg = aws.Config{Region: c.Region}
	} else {
		opts := []func(*awsconfig.LoadOptions) error{}
		if c.Region != "" {
			opts = append(opts, awsconfig.WithRegion(c.Region))
		}
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("events: EventBridge: load the AWS configuration: %w", err)
		}
	}
	if c.AccessKeyID != "" {
		cfg.Credentials = aws.NewCredentialsCache(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
	}
	if cfg.Region == "" {
		return nil, errors.New("events: EventBridge: no region (--events-eventbridge-region or AWS_REGION)")
	}
	bus := c.Bus
	if bus == "" {
		bus = "default"
	}
	source := c.Source
	if source == "" {
		source = Source
	}
	client := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		if c.HTTPClient != nil {
			o.HTTPClient = c.HTTPClient
		}
		// The Bus retries, with its own backoff and without dropping anything.
		o.Retryer = aws.NopRetryer{}
	})
	return &EventBridgeSink{client: client, bus: bus, source: source,
		timeout: timeoutOr(c.Timeout, 10*time.Second)}, nil
}

// Name is "eventbridge".
func (*EventBridgeSink) Name() string { return "eventbridge" }

// Deliver puts the events, 10 per PutEvents call. EventBridge accepts or refuses each entry of a call on its own:
// refused entries are put again at once (twice, 50 and 100ms apart), alone; if one is still refused, Deliver
// returns the events before it as delivered, and the Bus later sends it and the ones after it again. Either way a
// refused event reaches the bus after the events that followed it in its call: EventBridge promises no order.
func (s *EventBridgeSink) Deliver(ctx context.Context, evs []Event) (int, error) {
	done := 0
	for done < len(evs) {
		chunk := evs[done:min(done+putEventsMax, len(evs))]
		n, err := s.putChunk(ctx, chunk)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// putChunk puts up to 10 events, retrying refused entries; it returns how many from the first are delivered.
func (s *EventBridgeSink) putChunk(ctx context.Context, evs []Event) (int, error) {
	pending := make([]int, len(evs)) // indexes in evs still to put, ascending
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		refused, why, err := s.put(ctx, evs, pending)
		if err != nil {
			return pending[0], err
		}
		if len(refused) == 0 {
			return len(evs), nil
		}
		if attempt == 2 || !sleepCtx(ctx, 50*time.Millisecond<<attempt) {
			return refused[0], why
		}
		pending = refused
	}
}

// put makes one PutEvents call with evs[i] for i in idx, and returns the indexes EventBridge refused and why; err
// is set when the call itself failed.
func (s *EventBridgeSink) put(ctx context.Context, evs []Event, idx []int) (refused []int, why, err error) {
	entries := make([]types.PutEventsRequestEntry, len(idx))
	for j, i := range idx {
		e := evs[i]
		resources := e.Resources
		if resources == nil {
			resources = []string{}
		}
		entries[j] = types.PutEventsRequestEntry{
			EventBusName: aws.String(s.bus),
			Source:       aws.String(s.source),
			DetailType:   aws.String(e.DetailType),
			Detail:       aws.String(string(e.Detail)),
			Resources:    resources,
			Time:         aws.Time(e.Time),
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return nil, nil, fmt.Errorf("eventbridge: PutEvents: %w", err)
	}
	if len(out.Entries) != len(entries) {
		return nil, nil, fmt.Errorf("eventbridge: PutEvents answered %d entries for %d (%d failed)", len(out.Entries),
			len(entries), out.FailedEntryCount)
	}
	for j, r := range out.Entries {
		if r.ErrorCode != nil {
			if len(refused) == 0 {
				why = fmt.Errorf("eventbridge: PutEvents refused event %s (%d of %d entries failed): %s: %s",
					evs[idx[j]].ID, out.FailedEntryCount, len(entries), aws.ToString(r.ErrorCode),
					aws.ToString(r.ErrorMessage))
			}
			refused = append(refused, idx[j])
		}
	}
	if len(refused) == 0 && out.FailedEntryCount > 0 { // failures, but no entry says which: put them all again
		why = fmt.Errorf("eventbridge: PutEvents: %d of %d entries failed", out.FailedEntryCount, len(entries))
		refused = idx
	}
	return refused, why, nil
}

// sleepCtx waits d; false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// LogValue shows the configuration without its secrets.
func (c EventBridgeConfig) LogValue() slog.Value {
	secret := "unset"
	if c.SecretAccessKey != "" {
		secret = "set"
	}
	return slog.GroupValue(slog.String("bus", c.Bus), slog.String("endpoint", redactURL(c.Endpoint)),
		slog.String("region", c.Region), slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", secret), slog.String("source", c.Source))
}

// String is LogValue's text, so that %v does not print the secrets.
func (c EventBridgeConfig) String() string { return c.LogValue().String() }

// GoString is String, for %#v.
func (c EventBridgeConfig) GoString() string { return c.String() }
