package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// ARN patterns of the ivs-realtime model (length at most 128).
	stageARNPattern     = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/([a-zA-Z0-9-]+)$`)
	publicKeyARNPattern = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:([0-9]+):public-key/[a-zA-Z0-9-]+$`)
	jtiPattern          = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
)

const maxARNLength = 128

// latestDate bounds numeric dates (9999-12-31T23:59:59Z), so that no conversion overflows.
const latestDate = 253402300799

// stageOf returns the account and id of a stage ARN.
func stageOf(stageARN string) (account, id string, ok bool) {
	if len(stageARN) > maxARNLength {
		return "", "", false
	}
	m := stageARNPattern.FindStringSubmatch(stageARN)
	if m == nil {
		return "", "", false
	}
	return strings.Split(stageARN, ":")[4], m[1], true
}

// publicKeyAccount returns the account of a public-key ARN.
func publicKeyAccount(keyARN string) (string, bool) {
	if len(keyARN) > maxARNLength {
		return "", false
	}
	m := publicKeyARNPattern.FindStringSubmatch(keyARN)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// wirePayload is the payload Issue writes, with IVS's claim names in IVS's order.
type wirePayload struct {
	Exp          int64             `json:"exp"`
	Iat          int64             `json:"iat"`
	Jti          string            `json:"jti"`
	Resource     string            `json:"resource"`
	Topic        string            `json:"topic"`
	EventsURL    string            `json:"events_url"`
	WHIPURL      string            `json:"whip_url"`
	UserID       string            `json:"user_id"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	Capabilities wireCapabilities  `json:"capabilities"`
	Version      string            `json:"version"`
}

type wireCapabilities struct {
	AllowPublish   bool `json:"allow_publish"`
	AllowSubscribe bool `json:"allow_subscribe"`
}

// wirePayload satisfies jwt.Claims so that jwt can sign it; the claims are checked by this package, not by jwt.
func (p *wirePayload) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(p.Exp, 0)), nil
}
func (p *wirePayload) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(p.Iat, 0)), nil
}
func (p *wirePayload) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (p *wirePayload) GetIssuer() (string, error)              { return "", nil }
func (p *wirePayload) GetSubject() (string, error)             { return "", nil }
func (p *wirePayload) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }

// rawPayload keeps the payload's JSON as jwt decoded it, to be decoded by decodePayload once the signature is good.
type rawPayload struct{ b []byte }

func (r *rawPayload) UnmarshalJSON(b []byte) error {
	r.b = append(r.b[:0], b...)
	return nil
}

func (r *rawPayload) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (r *rawPayload) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (r *rawPayload) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (r *rawPayload) GetIssuer() (string, error)                   { return "", nil }
func (r *rawPayload) GetSubject() (string, error)                  { return "", nil }
func (r *rawPayload) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// payload is a decoded payload: Claims plus the registered claims that are not part of Claims.
type payload struct {
	Claims
	hasExp, hasIat bool
	NotBefore      time.Time
	hasNbf         bool
	hasCaps        bool
}

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
			return nil, err
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
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
func stringClaim(fields map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%s is not a string", name)
	}
	return s, true, nil
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
		return time.Time{}, false, fmt.Errorf("%s is not a date", name)
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	if nsec >= 1e9 {
		sec, nsec = sec+1, 0
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), true, nil
}

// decodePayload decodes a payload's claims, checking their types. Bounds and meaning are checked by checkClaims.
func decodePayload(b []byte) (*payload, *Error) {
	fields, err := objectFields(b)
	if err != nil {
		return nil, refuse(ReasonMalformed, fmt.Errorf("payload: %w", err))
	}
	p := new(payload)
	claimsErr := func(err error) *Error { return refuse(ReasonClaims, err) }

	if p.ExpiresAt, p.hasExp, err = dateClaim(fields, "exp"); err != nil {
		return nil, claimsErr(err)
	}
	if p.IssuedAt, p.hasIat, err = dateClaim(fields, "iat"); err != nil {
		return nil, claimsErr(err)
	}
	if p.NotBefore, p.hasNbf, err = dateClaim(fields, "nbf"); err != nil {
		return nil, claimsErr(err)
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{
		{"jti", &p.ParticipantID}, {"resource", &p.StageARN}, {"topic", &p.StageID},
		{"events_url", &p.EventsURL}, {"whip_url", &p.WHIPURL}, {"user_id", &p.UserID}, {"version", &p.Version},
	} {
		if *c.dst, _, err = stringClaim(fields, c.name); err != nil {
			return nil, claimsErr(err)
		}
	}
	if raw, ok := fields["attributes"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &p.Attributes); err != nil {
			return nil, claimsErr(errors.New("attributes is not a map of strings"))
		}
		if len(p.Attributes) == 0 {
			p.Attributes = nil
		}
	}
	if raw, ok := fields["capabilities"]; ok && !isNull(raw) {
		caps, err := objectFields(raw)
		if err != nil {
			return nil, claimsErr(fmt.Errorf("capabilities: %w", err))
		}
		for name, dst := range map[string]*bool{"allow_publish": &p.Capabilities.Publish, "allow_subscribe": &p.Capabilities.Subscribe} {
			if v, ok := caps[name]; ok {
				switch string(v) {
				case "true":
					*dst = true
				case "false":
				default:
					return nil, claimsErr(fmt.Errorf("capabilities.%s is not a boolean", name))
				}
			}
		}
		p.hasCaps = true
	}
	return p, nil
}

// checkClaims checks the claims that do not depend on the clock, the key or the store: it is what Issue checks too.
func checkClaims(c *Claims, hasCaps bool) *Error {
	if !jtiPattern.MatchString(c.ParticipantID) {
		return refusef(ReasonClaims, "jti is missing or not 1 to 64 characters [a-zA-Z0-9-_]")
	}
	if !hasCaps {
		return refusef(ReasonClaims, "capabilities is missing")
	}
	if utf8.RuneCountInString(c.UserID) > MaxUserIDChars {
		return refusef(ReasonClaims, "user_id is longer than 128 characters")
	}
	size := 0
	for k, v := range c.Attributes {
		size += len(k) + len(v)
	}
	if size > MaxAttributesBytes {
		return refusef(ReasonClaims, "attributes are larger than 1 KB")
	}
	_, id, ok := stageOf(c.StageARN)
	if !ok {
		return refusef(ReasonWrongStage, "resource is not a stage ARN")
	}
	if c.StageID != id {
		return refusef(ReasonWrongStage, "topic is not the id of the resource stage")
	}
	return nil
}

// checkLifetime checks exp against iat: exp after iat, and at most MaxLifetime later.
func checkLifetime(iat, exp time.Time) *Error {
	if !exp.After(iat) {
		return refusef(ReasonClaims, "exp is not after iat")
	}
	if exp.Sub(iat) > MaxLifetime {
		return refusef(ReasonClaims, "lifetime (exp - iat) is longer than 14 days")
	}
	return nil
}
