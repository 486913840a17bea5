package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// SinkConfig chooses the sinks. The zero value has none. Suggested flags are in brackets; secrets should also be
// accepted from the environment so they stay out of process listings.
type SinkConfig struct {
	// Log enables the log sink: one structured line per event [--events-log].
	Log bool
	// Logger is where the log sink writes (default slog.Default()).
	Logger *slog.Logger

	// WebhookURL enables the webhook sink: each event is POSTed there as JSON [--events-webhook-url].
	WebhookURL string
	// WebhookSecret, when set, signs each body: X-OpenIVS-Signature: sha256=<hex HMAC-SHA256(secret, body)>
	// [--events-webhook-secret, OPENIVS_EVENTS_WEBHOOK_SECRET].
	WebhookSecret string
	// WebhookTimeout bounds one POST (default 10s) [--events-webhook-timeout].
	WebhookTimeout time.Duration

	// EventBridgeBus enables the EventBridge sink: the name or ARN of the event bus PutEvents writes to
	// [--events-eventbridge-bus]. Setting only EventBridgeEndpoint enables it too, with the bus "default".
	EventBridgeBus string
	// EventBridgeEndpoint is the EventBridge API URL; "" uses the AWS endpoint of the region
	// [--events-eventbridge-endpoint].
	EventBridgeEndpoint string
	// EventBridgeRegion is the region the requests are signed for; "" takes it from the AWS environment
	// (AWS_REGION, shared config) [--events-eventbridge-region].
	EventBridgeRegion string
	// Static credentials; when EventBridgeAccessKeyID is "" the SDK's default chain is used (environment, shared
	// files, SSO, IMDS...) [--events-eventbridge-access-key-id, OPENIVS_EVENTS_EVENTBRIDGE_SECRET_ACCESS_KEY,
	// OPENIVS_EVENTS_EVENTBRIDGE_SESSION_TOKEN].
	EventBridgeAccessKeyID     string
	EventBridgeSecretAccessKey string
	EventBridgeSessionToken    string
	// EventBridgeSource is the Source of the entries (default "aws.ivs", like IVS's own events). AWS's
	// EventBridge reserves "aws." sources to AWS services and refuses them from PutEvents; against AWS set a
	// source of your own (e.g. "openivs") [--events-eventbridge-source].
	EventBridgeSource string
	// EventBridgeTimeout bounds one PutEvents call (default 10s).
	EventBridgeTimeout time.Duration

	// HTTPClient is used by the webhook and EventBridge sinks (default: a client of their own).
	HTTPClient *http.Client
}

// LogValue shows the configuration without its secrets, for the server's start-up log.
func (c SinkConfig) LogValue() slog.Value {
	set := func(s string) string {
		if s == "" {
			return "unset"
		}
		return "set"
	}
	return slog.GroupValue(
		slog.Bool("log", c.Log),
		slog.String("webhook_url", redactURL(c.WebhookURL)),
		slog.String("webhook_secret", set(c.WebhookSecret)),
		slog.String("eventbridge_bus", c.EventBridgeBus),
		slog.String("eventbridge_endpoint", redactURL(c.EventBridgeEndpoint)),
		slog.String("eventbridge_region", c.EventBridgeRegion),
		slog.String("eventbridge_access_key_id", c.EventBridgeAccessKeyID),
		slog.String("eventbridge_secret_access_key", set(c.EventBridgeSecretAccessKey)),
	)
}

// String is LogValue's text, so that printing a SinkConfig with %v does not print its secrets either.
func (c SinkConfig) String() string { return c.LogValue().String() }

// GoString is String, for %#v.
func (c SinkConfig) GoString() string { return c.String() }

// NewSinks makes the configured sinks, in a fixed order (log, webhook, eventbridge), named "log", "webhook" and
// "eventbridge" (their outbox cursors). It checks the configuration and returns an error naming the bad setting.
func NewSinks(cfg SinkConfig) ([]Sink, error) {
	var sinks []Sink
	if cfg.Log {
		sinks = append(sinks, NewLogSink(cfg.Logger))
	}
	if cfg.WebhookURL != "" {
		w, err := NewWebhookSink(cfg.WebhookURL, cfg.WebhookSecret, cfg.WebhookTimeout, cfg.HTTPClient)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, w)
	} else if cfg.WebhookSecret != "" {
		return nil, errors.New("events: a webhook secret is set without a webhook URL (--events-webhook-url)")
	}
	if cfg.EventBridgeBus != "" || cfg.EventBridgeEndpoint != "" {
		ec := EventBridgeConfig{
			Bus: cfg.EventBridgeBus, Endpoint: cfg.EventBridgeEndpoint, Region: cfg.EventBridgeRegion,
			AccessKeyID: cfg.EventBridgeAccessKeyID, SecretAccessKey: cfg.EventBridgeSecretAccessKey,
			SessionToken: cfg.EventBridgeSessionToken, Source: cfg.EventBridgeSource,
			Timeout: cfg.EventBridgeTimeout,
		}
		if cfg.HTTPClient != nil { // not a typed nil in the interface
			ec.HTTPClient = cfg.HTTPClient
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		e, err := NewEventBridgeSink(ctx, ec)
		cancel()
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, e)
	} else if cfg.EventBridgeAccessKeyID != "" || cfg.EventBridgeSecretAccessKey != "" || cfg.EventBridgeRegion != "" {
		return nil, errors.New("events: EventBridge settings without a bus or endpoint (--events-eventbridge-bus)")
	}
	return sinks, nil
}

// redactURL keeps the scheme and host of a URL: paths and queries of webhook URLs often hold tokens.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// LogSink writes one structured log line per event.
type LogSink struct{ log *slog.Logger }

// NewLogSink returns a sink logging to log (slog.Default() when nil) at level Info.
func NewLogSink(log *slog.Logger) *LogSink {
	if log == nil {
		log = slog.Default()
	}
	return &LogSink{log: log}
}

// Name is "log".
func (*LogSink) Name() string { return "log" }

// Deliver logs each event; it never fails.
func (s *LogSink) Deliver(ctx context.Context, evs []Event) (int, error) {
	for _, e := range evs {
		s.log.LogAttrs(ctx, slog.LevelInfo, "event",
			slog.String("id", e.ID),
			slog.String("detail_type", e.DetailType),
			slog.String("event_name", e.EventName()),
			slog.String("account", e.Account),
			slog.String("region", e.Region),
			slog.Time("time", e.Time),
			slog.Any("resources", e.Resources),
			slog.String("detail", string(e.Detail)),
		)
	}
	return len(evs), nil
}

// httpClient returns c, or a client of the sinks' own.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Transport: http.DefaultTransport}
}

func timeoutOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// errorf formats a delivery error, replacing any *url.Error's URL (which may hold a token) by its redacted form.
func errorf(format string, err error, args ...any) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return fmt.Errorf(format, append(args, err)...)
}
