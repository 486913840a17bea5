// Package jwtjson decodes JWT payloads strictly, for the two kinds of token OpenIVS verifies (participant tokens in
// internal/realtime/token, playback tokens in internal/playback/auth): golang-jwt checks the signature, and the
// payload is kept raw (RawPayload) to be decoded here member by member, refusing duplicate names, values of the
// wrong type and dates out of range, which encoding/json into a struct would let through.
package jwtjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// LatestDate bounds numeric dates (9999-12-31T23:59:59Z), so that no conversion overflows.
const LatestDate = 253402300799

var errNotObject = errors.New("not a JSON object")

// ObjectFields decodes a JSON object into its members, with exact (case-sensitive) names, refusing duplicate names
// and anything but one object.
func ObjectFields(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		name, ok := t.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		if _, dup := fields[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		fields[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return fields, nil
}

// IsNull tells whether a member is JSON null (claims treat it as absent).
func IsNull(raw json.RawMessage) bool { return string(raw) == "null" }

// DateClaim decodes an optional NumericDate claim (a JSON number of seconds, possibly fractional); null counts as
// absent.
func DateClaim(fields map[string]json.RawMessage, name string) (time.Time, bool, error) {
	raw, ok := fields[name]
	if !ok || IsNull(raw) {
		return time.Time{}, false, nil
	}
	// raw is one JSON value: of those, only numbers parse as floats.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > LatestDate {
		return time.Time{}, false, fmt.Errorf("%s is not a date (seconds since 1970 as a JSON number)", name)
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	if nsec >= 1e9 {
		sec, nsec = sec+1, 0
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), true, nil
}

// RawPayload keeps a payload's JSON as golang-jwt decoded it, to be decoded with ObjectFields once the signature
// is good. It claims nothing itself, so golang-jwt validates no registered claim on its own.
type RawPayload struct{ B []byte }

func (r *RawPayload) UnmarshalJSON(b []byte) error {
	r.B = append(r.B[:0], b...)
	return nil
}

func (r *RawPayload) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (r *RawPayload) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (r *RawPayload) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (r *RawPayload) GetIssuer() (string, error)                   { return "", nil }
func (r *RawPayload) GetSubject() (string, error)                  { return "", nil }
func (r *RawPayload) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
