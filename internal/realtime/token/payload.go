package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openivs/openivs/internal/jwtjson"
)

var (
	// ARN patterns of the ivs-realtime model (length at most 128).
	stageARNPattern     = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/([a-zA-Z0-9-]+)$`)
	publicKeyARNPattern = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:([0-9]+):public-key/[a-zA-Z0-9-]+$`)
	jtiPattern          = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
)

const maxARNLength = 128

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

// payload is a decoded payload: Claims plus the registered claims that are not part of Claims.
type payload struct {
	Claims
	hasExp, hasIat bool
	NotBefore      time.Time
	hasNbf         bool
	hasCaps        bool
}

// stringClaim decodes an optional string claim; null counts as absent.
func stringClaim(fields map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := fields[name]
	if !ok || jwtjson.IsNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%s is not a string", name)
	}
	return s, true, nil
}

// decodePayload decodes a payload's claims, checking their types. Bounds and meaning are checked by checkClaims.
func decodePayload(b []byte) (*payload, *Error) {
	fields, err := jwtjson.ObjectFields(b)
	if err != nil {
		return nil, refuse(ReasonMalformed, fmt.Errorf("payload: %w", err))
	}
	p := new(payload)
	claimsErr := func(err error) *Error { return refuse(ReasonClaims, err) }

	if p.ExpiresAt, p.hasExp, err = jwtjson.DateClaim(fields, "exp"); err != nil {
		return nil, claimsErr(err)
	}
	if p.IssuedAt, p.hasIat, err = jwtjson.DateClaim(fields, "iat"); err != nil {
		return nil, claimsErr(err)
	}
	if p.NotBefore, p.hasNbf, err = jwtjson.DateClaim(fields, "nbf"); err != nil {
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
	if raw, ok := fields["attributes"]; ok && !jwtjson.IsNull(raw) {
		if err := json.Unmarshal(raw, &p.Attributes); err != nil {
			return nil, claimsErr(errors.New("attributes is not a map of strings"))
		}
		if len(p.Attributes) == 0 {
			p.Attributes = nil
		}
	}
	if raw, ok := fields["capabilities"]; ok && !jwtjson.IsNull(raw) {
		caps, err := jwtjson.ObjectFields(raw)
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
