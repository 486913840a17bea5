package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

var t0 = time.Date(2025, 4, 23, 6, 36, 53, 0, time.UTC)

// toMap is the generic JSON value of v (numbers as float64), for comparisons that ignore key order.
func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkEnvelope checks the envelope of e's JSON: exactly EventBridge's fields, with their types and formats.
func checkEnvelope(t *testing.T, e Event, o Origin) map[string]any {
	t.Helper()
	m := toMap(t, e)
	want := []string{"account", "detail", "detail-type", "id", "region", "resources", "source", "time", "version"}
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("envelope keys %v, want %v", got, want)
	}
	if m["version"] != "0" || m["source"] != "aws.ivs" || m["account"] != o.Account || m["region"] != o.Region {
		t.Errorf("envelope %v", m)
	}
	if id, _ := m["id"].(string); !uuidRE.MatchString(id) {
		t.Errorf("id %q is not a UUID", m["id"])
	}
	if ts, _ := m["time"].(string); ts != o.Time.UTC().Format(time.RFC3339) || !strings.HasSuffix(ts, "Z") {
		t.Errorf("time %q, want %q", m["time"], o.Time.UTC().Format(time.RFC3339))
	}
	if _, ok := m["resources"].([]any); !ok {
		t.Errorf("resources %#v is not an array", m["resources"])
	}
	if _, ok := m["detail"].(map[string]any); !ok {
		t.Errorf("detail %#v is not an object", m["detail"])
	}
	return m
}

// TestGoldenReferenceExamples builds each event the reference (ivs-reference.md §5) gives an example of, with the
// example's values, and compares the JSON: detail-type, resources and every detail field with its type.
func TestGoldenReferenceExamples(t *testing.T) {
	cases := []struct {
		file string
		ev   Event
	}{
		{"session-created.json", SessionCreated(Origin{Account: "535011710559", Region: "us-west-2", Time: t0},
			Stream{ChannelARN: "arn:aws:ivs:us-west-2:535011710559:channel/UCGaMPGLCbcE", ChannelName: "",
				StreamID: "st-1AuTyMDASvHUTSb8p5PvbsO"})},
		{"limit-breach-concurrent-broadcasts.json", AccountLimitBreach(
			Origin{Account: "123456789012", Region: "us-west-2", Time: t0},
			Limit{Name: LimitConcurrentBroadcasts, Unit: UnitActiveStreams, Value: 2, ExceededBy: 3})},
		{"recording-end.json", RecordingEnd(Origin{Account: "123456789012", Region: "us-west-2", Time: t0},
			Recording{
				Stream: Stream{ChannelARN: "arn:aws:ivs:us-west-2:123456789012:channel/AbCdef1G2hij",
					ChannelName: "Your Channel", StreamID: "st-1A2b3c4D5e6F78ghij9Klmn"},
				BucketName: "r2s3-dev-channel-1-recordings",
				KeyPrefix:  "ivs/v1/123456789012/AbCdef1G2hij/2020/6/23/20/12/j8Z9O91ndcVs",
				SessionID:  "a6RfV23ES97iyfoQ", DurationMs: 99370264,
				SessionStreamIDs: []string{"st-254sopYUvi6F78ghpO9vn0A", "st-1A2b3c4D5e6F78ghij9Klmn"},
			})},
		{"stage-update-participant-published.json", ParticipantPublished(
			Origin{Account: "630176884077", Region: "us-east-1", Time: t0},
			Participant{StageARN: "arn:aws:ivs:us-east-1:630176884077:stage/oWXSOfbOLMte",
				SessionID: "st-1CVugbu2cf2n8", ParticipantID: "03JY4smU3eXc", UserID: ""})},
		{"participant-recording-start.json", ParticipantRecordingStart(
			Origin{Account: "123456789012", Region: "us-east-1", Time: t0},
			ParticipantRecording{StageARN: "arn:aws:ivs:us-east-1:123456789012:stage/AbCdEfGhIjKl",
				SessionID: "st-ZyXwvu1T2s", ParticipantID: "xYz1c2d3e4f", BucketName: "ivs-recordings",
				KeyPrefix: "<stage_id>/<session_id>/<participant_id>/2024-01-01T12-00-55Z"})},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "reference", c.file))
			if err != nil {
				t.Fatal(err)
			}
			want := toMap(t, b)
			got := checkEnvelope(t, c.ev, Origin{Account: c.ev.Account, Region: c.ev.Region, Time: t0})
			if _, full := want["id"]; full { // a complete captured event: only the id differs
				got["id"] = want["id"]
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got  %v\nwant %v", got, want)
				}
				return
			}
			for _, k := range []string{"detail-type", "resources", "detail"} {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s:\ngot  %#v\nwant %#v", k, got[k], want[k])
				}
			}
		})
	}
}

// jsonKind is the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case bool:
		return "bool"
	}
	return "null"
}

// TestShapes checks every constructor's detail-type, resources and detail fields (names and JSON types) against
// the tables of the reference, §5.1 and §5.2.
func TestShapes(t *testing.T) {
	o := Origin{Account: "123456789012", Region: "us-west-2", Time: t0}
	ch := "arn:aws:ivs:us-west-2:123456789012:channel/AbCdef1G2hij"
	s := Stream{ChannelARN: ch, ChannelName: "c", StreamID: "st-1A2b3c4D5e6F78ghij9Klmn"}
	rec := Recording{Stream: s, BucketName: "b", KeyPrefix: "ivs/v1/123456789012/AbCdef1G2hij/2020/6/23/20/12/x",
		SessionID: "x", DurationMs: 1234}
	stage := "arn:aws:ivs:us-west-2:123456789012:stage/oWXSOfbOLMte"
	p := Participant{StageARN: stage, SessionID: "st-1CVugbu2cf2n8", ParticipantID: "03JY4smU3eXc", UserID: "u"}
	pr := ParticipantRecording{StageARN: stage, SessionID: "st-1CVugbu2cf2n8", ParticipantID: "03JY4smU3eXc",
		BucketName: "b", KeyPrefix: "k", DurationMs: 99}
	comp := "arn:aws:ivs:us-west-2:123456789012:composition/abcdABCDefgh"

	stream := map[string]string{"event_name": "string", "channel_name": "string", "stream_id": "string"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	recFields := map[string]string{"channel_name": "string", "stream_id": "string", "recording_status": "string",
		"recording_status_reason": "string", "recording_s3_bucket_name": "string",
		"recording_s3_key_prefix": "string", "recording_duration_ms": "number", "recording_session_id": "string"}
	stageFields := map[string]string{"session_id": "string", "event_name": "string", "event_time": "string",
		"user_id": "string", "participant_id": "string"}
	prFields := map[string]string{"session_id": "string", "event_name": "string", "participant_id": "string",
		"recording_s3_bucket_name": "string", "recording_s3_key_prefix": "string"}
	limit := map[string]string{"limit_name": "string", "limit_value": "number", "exceeded_by": "number",
		"limit_unit": "string"}

	cases := []struct {
		ev        Event
		typ       string
		resources []string
		fields    map[string]string // name -> JSON type
		values    map[string]any    // some field values to check
	}{
		{SessionCreated(o, s), TypeStreamStateChange, []string{ch}, stream,
			map[string]any{"event_name": "Session Created", "channel_name": "c"}},
		{SessionEnded(o, s, ""), TypeStreamStateChange, []string{ch}, stream,
			map[string]any{"event_name": "Session Ended"}},
		{SessionEnded(o, s, CodeMultitrackInputNotAllowed), TypeStreamStateChange, []string{ch},
			with(stream, "code", "string"), map[string]any{"code": "MultitrackInputNotAllowed"}},
		{StreamStart(o, s), TypeStreamStateChange, []string{ch}, stream, map[string]any{"event_name": "Stream Start"}},
		{StreamEnd(o, s), TypeStreamStateChange, []string{ch}, stream, map[string]any{"event_name": "Stream End"}},
		{StreamFailure(o, s, "Transcode capacity exceeded. Please try again."), TypeStreamStateChange,
			[]string{ch}, with(stream, "reason", "string"),
			map[string]any{"event_name": "Stream Failure", "reason": "Transcode capacity exceeded. Please try again."}},
		{StreamTakeover(o, s), TypeStreamStateChange, []string{ch}, stream,
			map[string]any{"event_name": "Stream Takeover"}},
		{StreamTakeoverFailure(o, s, CodeStreamTakeoverInvalidPriority), TypeStreamStateChange, []string{ch},
			with(stream, "code", "string"),
			map[string]any{"event_name": "Stream Takeover Failure", "code": "StreamTakeoverInvalidPriority"}},
		{StarvationStart(o, s), TypeStreamHealthChange, []string{ch}, stream,
			map[string]any{"event_name": "Starvation Start"}},
		{StarvationEnd(o, s), TypeStreamHealthChange, []string{ch}, stream,
			map[string]any{"event_name": "Starvation End"}},
		{IngestLimitBreach(o, s, Limit{Name: LimitIngestBitrate, Unit: UnitBitsPerSecond, Value: 8500000,
			ExceededBy: 1500000}), TypeLimitBreach, []string{ch},
			with(with(limit, "channel_name", "string"), "stream_id", "string"),
			map[string]any{"limit_name": "Ingest Bitrate", "limit_unit": "bits per second",
				"limit_value": 8500000.0, "exceeded_by": 1500000.0}},
		{IngestLimitBreach(o, Stream{ChannelARN: ch, StreamID: "st-x"}, Limit{Name: LimitIngestResolution,
			Unit: UnitTotalPixels, Value: 2073600, ExceededBy: 1}), TypeLimitBreach, []string{ch},
			with(with(limit, "channel_name", "string"), "stream_id", "string"),
			map[string]any{"channel_name": ""}}, // an unnamed channel's name is still sent
		{AccountLimitBreach(o, Limit{Name: LimitConcurrentViewers, Unit: UnitViewers, Value: 15000,
			ExceededBy: 1}), TypeLimitBreach, []string{}, limit, map[string]any{"limit_unit": "viewers"}},
		{RecordingStart(o, rec), TypeRecordingStateChange, []string{ch}, recFields,
			map[string]any{"recording_status": "Recording Start", "recording_duration_ms": 0.0,
				"recording_status_reason": ""}},
		{RecordingEnd(o, rec), TypeRecordingStateChange, []string{ch},
			with(recFields, "recording_session_stream_ids", "array"),
			map[string]any{"recording_status": "Recording End", "recording_duration_ms": 1234.0,
				"recording_session_stream_ids": []any{"st-1A2b3c4D5e6F78ghij9Klmn"}}},
		{RecordingStartFailure(o, rec, ReasonValidationException), TypeRecordingStateChange, []string{ch},
			recFields, map[string]any{"recording_status": "Recording Start Failure",
				"recording_status_reason": "ValidationException", "recording_s3_key_prefix": ""}},
		{RecordingEndFailure(o, rec, ReasonInternalServerException), TypeRecordingStateChange, []string{ch},
			recFields, map[string]any{"recording_status": "Recording End Failure",
				"recording_status_reason": "InternalServerException", "recording_duration_ms": 1234.0}},
		{ParticipantPublished(o, p), TypeStageUpdate, []string{stage}, stageFields,
			map[string]any{"event_name": "Participant Published", "event_time": "2025-04-23T06:36:53Z",
				"user_id": "u"}},
		{ParticipantUnpublished(o, p), TypeStageUpdate, []string{stage}, stageFields,
			map[string]any{"event_name": "Participant Unpublished"}},
		{ParticipantPublishError(o, p, "BITRATE_EXCEEDED"), TypeStageUpdate, []string{stage},
			with(stageFields, "reason", "string"),
			map[string]any{"event_name": "Participant Publish Error", "reason": "BITRATE_EXCEEDED"}},
		{ParticipantReplicationStarted(o, p), TypeStageUpdate, []string{stage}, stageFields,
			map[string]any{"event_name": "Participant Replication Started"}},
		{ParticipantReplicationStopped(o, p), TypeStageUpdate, []string{stage}, stageFields,
			map[string]any{"event_name": "Participant Replication Stopped"}},
		{ParticipantRecordingStart(o, pr), TypeParticipantRecordingStateChange, []string{stage}, prFields,
			map[string]any{"event_name": "Recording Start"}},
		{ParticipantRecordingEnd(o, pr), TypeParticipantRecordingStateChange, []string{stage},
			with(prFields, "recording_duration_ms", "number"),
			map[string]any{"event_name": "Recording End", "recording_duration_ms": 99.0}},
		{ParticipantRecordingStartFailure(o, pr), TypeParticipantRecordingStateChange, []string{stage}, prFields,
			map[string]any{"event_name": "Recording Start Failure"}},
		{ParticipantRecordingEndFailure(o, pr), TypeParticipantRecordingStateChange, []string{stage},
			with(prFields, "recording_duration_ms", "number"),
			map[string]any{"event_name": "Recording End Failure"}},
	}
	for _, name := range []string{CompositionSessionStartName, CompositionSessionEndName,
		CompositionSessionFailureName, CompositionDestinationStartName, CompositionDestinationEndName,
		CompositionDestinationFailureName, CompositionDestinationReconnectingName} {
		cases = append(cases, struct {
			ev        Event
			typ       string
			resources []string
			fields    map[string]string
			values    map[string]any
		}{CompositionStateChange(o, Composition{CompositionARN: comp, StageARN: stage}, name),
			TypeCompositionStateChange, []string{comp},
			map[string]string{"event_name": "string", "stage_arn": "string"},
			map[string]any{"event_name": name, "stage_arn": stage}})
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.ev.EventName(), func(t *testing.T) {
			m := checkEnvelope(t, c.ev, o)
			if m["detail-type"] != c.typ {
				t.Errorf("detail-type %q, want %q", m["detail-type"], c.typ)
			}
			var res []string
			for _, r := range m["resources"].([]any) {
				res = append(res, r.(string))
			}
			if !slices.Equal(res, c.resources) {
				t.Errorf("resources %v, want %v", res, c.resources)
			}
			d := m["detail"].(map[string]any)
			got := map[string]string{}
			for k, v := range d {
				got[k] = jsonKind(v)
			}
			if !reflect.DeepEqual(got, c.fields) {
				t.Errorf("detail fields %v, want %v", got, c.fields)
			}
			for k, v := range c.values {
				if !reflect.DeepEqual(d[k], v) {
					t.Errorf("detail %s = %#v, want %#v", k, d[k], v)
				}
			}
		})
	}
}

func TestEventIDsAndTime(t *testing.T) {
	s := Stream{ChannelARN: "arn:aws:ivs:us-west-2:123456789012:channel/a", StreamID: "st-x"}
	seen := map[string]bool{}
	for range 100 {
		id := StreamStart(Origin{}, s).ID
		if !uuidRE.MatchString(id) || seen[id] {
			t.Fatalf("id %q: not a fresh UUID v4", id)
		}
		seen[id] = true
	}
	before := time.Now().Add(-time.Second)
	e := StreamStart(Origin{}, s) // zero time: now
	if e.Time.Before(before) || e.Time.After(time.Now()) || e.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want now in UTC", e.Time)
	}
	local := time.Date(2024, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("X", 3600))
	m := toMap(t, StreamStart(Origin{Time: local}, s))
	if m["time"] != "2024-01-02T02:04:05Z" {
		t.Errorf("time %v, want 2024-01-02T02:04:05Z (UTC, seconds)", m["time"])
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	o := Origin{Account: "123456789012", Region: "us-west-2", Time: t0}
	evs := []Event{
		SessionEnded(o, Stream{ChannelARN: "arn:aws:ivs:us-west-2:123456789012:channel/a", ChannelName: "ü \"q\"",
			StreamID: "st-x"}, "c"),
		AccountLimitBreach(o, Limit{Name: LimitConcurrentBroadcasts, Unit: UnitActiveStreams, Value: 2, ExceededBy: 1}),
		{}, // the zero Event marshals (resources [], detail {}) but does not decode: no id, detail-type
	}
	for i, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if i == 2 {
			if err == nil {
				t.Errorf("Decode of the zero Event succeeded: %+v", got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip:\ngot  %+v\nwant %+v", got, e)
		}
		var viaJSON Event
		if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, e) {
			t.Errorf("json.Unmarshal: %v, %+v", err, viaJSON)
		}
	}
	// The full captured example decodes.
	b, err := os.ReadFile("testdata/reference/stage-update-participant-published.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "db65fc17-1612-ef68-3aad-c8a7bfd7b881" || !e.Time.Equal(t0) || e.EventName() != "Participant Published" {
		t.Errorf("decoded %+v", e)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := `{"version":"0","id":"i","detail-type":"T","source":"aws.ivs","account":"1","time":"2024-01-01T00:00:00Z","region":"r","resources":[],"detail":{}}`
	if _, err := Decode([]byte(valid)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, bad := range []string{
		``, `null`, `[]`, `{}`, `{"version":"0"`,
		strings.Replace(valid, `"id":"i",`, ``, 1),
		strings.Replace(valid, `"id":"i"`, `"id":""`, 1),
		strings.Replace(valid, `"detail-type":"T"`, `"detail-type":7`, 1),
		strings.Replace(valid, `"2024-01-01T00:00:00Z"`, `"yesterday"`, 1),
		strings.Replace(valid, `"detail":{}`, `"detail":[]`, 1),
		strings.Replace(valid, `"detail":{}`, `"detail":null`, 1),
		strings.Replace(valid, `,"detail":{}`, ``, 1),
		strings.Replace(valid, `"resources":[]`, `"resources":[1]`, 1),
		strings.Replace(valid, `"resources":[]`, `"resources":"a"`, 1),
	} {
		if e, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) = %+v, want an error", bad, e)
		}
	}
}

func TestOriginOf(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	o, err := OriginOf("arn:aws:ivs:eu-west-1:123456789012:channel/AbCdef1G2hij", at)
	if err != nil || o != (Origin{Account: "123456789012", Region: "eu-west-1", Time: at}) {
		t.Errorf("OriginOf = %+v, %v", o, err)
	}
	if _, err := OriginOf("not-an-arn", at); err == nil {
		t.Error("OriginOf of a bad ARN succeeded")
	}
	if err := Discard.Publish(t.Context(), Event{}); err != nil {
		t.Error(err)
	}
}
