package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// The helpers below decode a JWT payload strictly. objectFields and dateClaim are the same as in
// internal/realtime/token (unexported there); they are generic and could move to a shared package.

// latestDate bounds numeric dates (9999-12-31T23:59:59Z), so that no conversion overflows.
const latestDate = 253402300799

// objectFields decodes a JSON object into its members, with exact (case-sensitive) names, refusing duplicate names
// and anything but one object.
func objectFields(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a JSON object")
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := fields[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		fields[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return fields, nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// stringClaim decodes an optional string claim; null counts as absent.
func stringClaim(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

// boolClaim decodes an optional boolean claim: true, false, or the strings "true" and "false"; null counts as absent.
func boolClaim(fields map[string]json.RawMessage, name string) (bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return false, nil
	}
	switch string(raw) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`:
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean", name)
}

// int64Claim decodes an optional integer claim, given as a JSON number without fraction or exponent, or as a
// string holding one (as IVS's documentation shows aws:viewer-session-version); null counts as absent (0).
func int64Claim(fields map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return 0, nil
	}
	s := string(raw)
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%s is not an integer", name)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (len(s) > 0 && s[0] == '+') {
		return 0, fmt.Errorf("%s is not a 64-bit integer", name)
	}
	return n, nil
}

// dateClaim decodes an optional NumericDate claim (a JSON number of seconds, possibly fractional); null counts as absent.
func dateClaim(fields map[string]json.RawMessage, name string) (time.Time, bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return time.Time{}, false, nil
	}
	// raw is one JSON value: of those, only numbers parse as floats.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > latestDate {
		return time.Time{}, false, fmt.Errorf("%s is not a date (seconds since 1970 as a JSON number)", name)
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	if nsec >= 1e9 {
		sec, nsec = sec+1, 0
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), true, nil
}
