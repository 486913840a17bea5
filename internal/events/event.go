// Package events makes the EventBridge events Amazon IVS emits ("aws.ivs": stream state and health, limit
// breaches, recording state, stage updates, compositions, participant recordings), keeps them in a durable outbox
// (store.Outbox) and delivers them, at least once and in order, to the configured sinks: a structured log, a
// signed webhook, or an EventBridge bus through PutEvents.
//
// Producers (ingest, live, record, realtime) build an Event with one of the constructors, whose detail fields are
// those of the IVS user guides (see /work/shared/ivs-reference.md §5), and hand it to Bus.Publish.
package events

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openivs/openivs/internal/arn"
)

// Envelope constants of every IVS event.
const (
	Version = "0"
	Source  = "aws.ivs"
)

// Detail types.
const (
	TypeStreamStateChange               = "IVS Stream State Change"
	TypeStreamHealthChange              = "IVS Stream Health Change"
	TypeLimitBreach                     = "IVS Limit Breach"
	TypeRecordingStateChange            = "IVS Recording State Change"
	TypeStageUpdate                     = "IVS Stage Update"
	TypeParticipantRecordingStateChange = "IVS Participant Recording State Change"
	TypeCompositionStateChange          = "IVS Composition State Change"
)

// Event is one event in EventBridge's envelope, as EventBridge delivers it to a rule target. Its JSON is exactly
// that envelope; Time is written in RFC 3339 UTC with second precision, like EventBridge.
type Event struct {
	Version    string          // always "0"
	ID         string          // a random UUID
	DetailType string          // "detail-type", one of the Type constants
	Source     string          // always "aws.ivs"
	Account    string          // the 12-digit account of the resource
	Time       time.Time       // when it happened
	Region     string          // the region of the resource
	Resources  []string        // the ARNs concerned (a channel, a stage, a composition); empty for account-wide events
	Detail     json.RawMessage // a JSON object; see the detail types of this package
}

// wireEvent is the JSON shape of Event.
type wireEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// MarshalJSON writes the EventBridge envelope. resources is [] (not null) when empty, detail {} when unset.
// encoding/json escapes <, > and & in its output; JSON does not.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.wire())
}

// JSON returns the event's JSON as EventBridge writes it: like MarshalJSON, without escaping <, > and & (IVS
// recording prefixes of participant recordings hold no such characters, but channel names may). It is what the
// outbox stores and the sinks send.
func (e Event) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.wire()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (e Event) wire() wireEvent {
	w := wireEvent{
		Version: e.Version, ID: e.ID, DetailType: e.DetailType, Source: e.Source, Account: e.Account,
		Time: e.Time.UTC().Format(time.RFC3339), Region: e.Region, Resources: e.Resources, Detail: e.Detail,
	}
	if w.Resources == nil {
		w.Resources = []string{}
	}
	if len(w.Detail) == 0 {
		w.Detail = json.RawMessage("{}")
	}
	return w
}

// UnmarshalJSON reads an envelope; see Decode for the checks.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := Decode(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// Decode parses and checks the JSON of an event (an outbox payload, or an event received from elsewhere): every
// envelope field is present with its type, time is RFC 3339, detail is a JSON object and resources an array of
// strings. It never panics, whatever the bytes.
func Decode(b []byte) (Event, error) {
	var w struct {
		Version    *string         `json:"version"`
		ID         *string         `json:"id"`
		DetailType *string         `json:"detail-type"`
		Source     *string         `json:"source"`
		Account    *string         `json:"account"`
		Time       *string         `json:"time"`
		Region     *string         `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("events: decode: %w", err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"version", w.Version}, {"id", w.ID}, {"detail-type", w.DetailType}, {"source", w.Source},
		{"account", w.Account}, {"time", w.Time}, {"region", w.Region}} {
		if f.v == nil {
			return Event{}, fmt.Errorf("events: decode: missing %q", f.name)
		}
	}
	if *w.DetailType == "" || *w.ID == "" {
		return Event{}, errors.New("events: decode: empty id or detail-type")
	}
	t, err := time.Parse(time.RFC3339, *w.Time)
	if err != nil {
		return Event{}, fmt.Errorf("events: decode: time: %w", err)
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 { // not writable back in RFC 3339 UTC
		return Event{}, fmt.Errorf("events: decode: time %q out of range", *w.Time)
	}
	if d := bytes.TrimLeft(w.Detail, " \t\r\n"); len(d) == 0 || d[0] != '{' {
		return Event{}, errors.New("events: decode: detail is not a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, w.Detail); err != nil {
		return Event{}, fmt.Errorf("events: decode: detail: %w", err)
	}
	if w.Resources == nil {
		w.Resources = []string{}
	}
	return Event{
		Version: *w.Version, ID: *w.ID, DetailType: *w.DetailType, Source: *w.Source, Account: *w.Account,
		Time: t.UTC(), Region: *w.Region, Resources: w.Resources, Detail: compact.Bytes(),
	}, nil
}

// EventName returns the detail's event_name, or its recording_status or limit_name for the detail types that
// have none ("" if absent or not decodable): the name a log line or a metric shows.
func (e Event) EventName() string {
	var d struct {
		EventName       string `json:"event_name"`
		RecordingStatus string `json:"recording_status"`
		LimitName       string `json:"limit_name"`
	}
	if json.Unmarshal(e.Detail, &d) != nil {
		return ""
	}
	switch {
	case d.EventName != "":
		return d.EventName
	case d.RecordingStatus != "":
		return d.RecordingStatus
	}
	return d.LimitName
}

// Origin says where and when an event happened: the account and region of the resource, and the time (the
// zero Time means now).
type Origin struct {
	Account string
	Region  string
	Time    time.Time
}

// OriginOf returns the Origin of an event about the resource resourceARN (its account and region) at t (the zero
// Time means now).
func OriginOf(resourceARN string, t time.Time) (Origin, error) {
	a, err := arn.Parse(resourceARN)
	if err != nil {
		return Origin{}, fmt.Errorf("events: %w", err)
	}
	return Origin{Account: a.Account, Region: a.Region, Time: t}, nil
}

// newEvent makes an event with a fresh id.
func newEvent(o Origin, detailType string, resources []string, detail any) Event {
	t := o.Time
	if t.IsZero() {
		t = time.Now()
	}
	if resources == nil {
		resources = []string{}
	}
	return Event{
		Version: Version, ID: NewID(), DetailType: detailType, Source: Source, Account: o.Account,
		Time: t.UTC().Truncate(time.Second), Region: o.Region, Resources: resources, Detail: mustMarshal(detail),
	}
}

// mustMarshal marshals a detail: the detail types are plain structs of strings and numbers.
func mustMarshal(detail any) json.RawMessage {
	b, err := json.Marshal(detail)
	if err != nil {
		panic(fmt.Sprintf("events: marshal %T: %v", detail, err))
	}
	return b
}

// NewID returns a random (version 4) UUID, the form of EventBridge event ids.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
