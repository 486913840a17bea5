package awsapi

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeJSON(t *testing.T) {
	ts := Time{time.Date(2020, 5, 5, 23, 55, 38, 123456789, time.FixedZone("x", 2*3600))}
	b, err := json.Marshal(ts)
	if err != nil || string(b) != `"2020-05-05T21:55:38Z"` {
		t.Fatalf("marshal: %s %v (want RFC 3339 UTC, seconds)", b, err)
	}
	for _, in := range []string{`"2020-05-05T21:55:38Z"`, `"2020-05-05T23:55:38+02:00"`, `"2020-05-05T21:55:38.5Z"`, `1588715738`, `1588715738.5`} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("unmarshal %s: %v", in, err)
		}
		if got.Unix() != 1588715738 || got.Location() != time.UTC {
			t.Fatalf("unmarshal %s = %v", in, got.Time)
		}
	}
	for _, bad := range []string{`"yesterday"`, `true`, `"2020-13-01T00:00:00Z"`} {
		var got Time
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Fatalf("unmarshal %s accepted", bad)
		}
	}
}

func TestValidatorMessages(t *testing.T) {
	var v Validator
	v.StrLen("name", "abcd", 0, 3)
	v.Required("arn")
	v.Redact(true)
	v.StrLen("value", "secret-value", 0, 3)
	v.Redact(false)
	err := v.Err()
	want := "ValidationException: 3 validation errors detected: Value 'abcd' at 'name' failed to satisfy constraint: Member must have length less than or equal to 3; " +
		"Value null at 'arn' failed to satisfy constraint: Member must not be null; " +
		"Value '*** Sensitive Data Redacted ***' at 'value' failed to satisfy constraint: Member must have length less than or equal to 3"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var ok Validator
	ok.StrLen("name", "abc", 0, 3)
	if ok.Err() != nil {
		t.Fatal("a valid value was refused")
	}
}
