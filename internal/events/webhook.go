package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" + the hex HMAC-SHA256 of the request body keyed with the webhook secret
	// (absent when no secret is configured).
	SignatureHeader = "X-OpenIVS-Signature"
	// TimestampHeader is the Unix time (seconds) of the attempt. It is not signed: the body is, and holds the
	// event's id (to deduplicate retries) and time.
	TimestampHeader = "X-OpenIVS-Timestamp"
	// EventIDHeader repeats the event id, so a receiver can deduplicate without parsing the body.
	EventIDHeader = "X-OpenIVS-Event-Id"
)

// WebhookSink POSTs each event's JSON to a URL, one request per event, in order. A 2xx answer delivers the
// event; anything else (another status, a timeout, a network error) fails it, and the Bus retries.
type WebhookSink struct {
	url     string
	secret  []byte
	timeout time.Duration
	client  *http.Client
}

// NewWebhookSink returns a webhook sink posting to rawURL (http or https), signing with secret when it is not
// empty. timeout bounds each request (default 10s); client may be nil.
func NewWebhookSink(rawURL, secret string, timeout time.Duration, client *http.Client) (*WebhookSink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("events: webhook URL %q: want an absolute http or https URL", redactURL(rawURL))
	}
	return &WebhookSink{url: rawURL, secret: []byte(secret), timeout: timeoutOr(timeout, 10*time.Second),
		client: httpClient(client)}, nil
}

// Name is "webhook".
func (*WebhookSink) Name() string { return "webhook" }

// Sign returns the SignatureHeader value of body for secret: "sha256=" + hex(HMAC-SHA256(secret, body)).
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature (a SignatureHeader value) is body's signature with secret, in constant time.
// Receivers written in Go can use it.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// Deliver posts the events one by one, stopping at the first failure.
func (s *WebhookSink) Deliver(ctx context.Context, evs []Event) (int, error) {
	for i, e := range evs {
		if err := s.post(ctx, e); err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

func (s *WebhookSink) post(ctx context.Context, e Event) error {
	body, err := e.JSON()
	if err != nil {
		return fmt.Errorf("webhook: event %s: %w", e.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return errorf("webhook: event %s: %w", err, e.ID)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "openivs-events/1")
	req.Header.Set(EventIDHeader, e.ID)
	req.Header.Set(TimestampHeader, strconv.FormatInt(time.Now().Unix(), 10))
	if len(s.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(s.secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return errorf("webhook: event %s: %w", err, e.ID)
	}
	// Drain a little of the body so the connection can be reused; receivers have no reason to answer at length.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: event %s: %s answered %s", e.ID, redactURL(s.url), resp.Status)
	}
	return nil
}
