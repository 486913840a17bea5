package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openivs/openivs/internal/jwtjson"
)

// Limits of viewer tokens.
const (
	// MaxTokenBytes is the longest token VerifyViewerToken looks at; longer ones are refused as malformed unparsed.
	MaxTokenBytes = 16 * 1024
	// MaxShortLivedExp is how far exp may be from now in a token with aws:single-use-uuid or aws:viewer-id.
	MaxShortLivedExp = 10 * time.Minute
	// ShortLivedSkew is the clock skew allowed on top of MaxShortLivedExp.
	ShortLivedSkew = 30 * time.Second
	// MaxViewerIDChars bounds aws:viewer-id (StartViewerSessionRevocation's viewerId is 1 to 40 characters).
	MaxViewerIDChars = 40
	// MaxStrictOrigins bounds the origins of aws:access-control-allow-origin when strict enforcement is on.
	MaxStrictOrigins = 5
	// MaxSingleUseUUIDBytes bounds aws:single-use-uuid (a UUID is 36), so that SingleUse's memory stays bounded.
	MaxSingleUseUUIDBytes = 128
)

// Maximum resolutions (aws:maximum-resolution).
const (
	ResolutionSD     = "SD"
	ResolutionHD     = "HD"
	ResolutionFullHD = "FULL_HD"
)

// Key is one of the account's playback key pairs: its ARN and public key.
type Key struct {
	ARN       string
	PublicKey *ecdsa.PublicKey
}

// ParsePublicKeyPEM parses a playback key pair's public key as stored: one PEM "PUBLIC KEY" block (SPKI) holding an
// ECDSA P-384 key, the only kind IVS accepts. It applies the same rule as ivs.ParseP384PublicKey (which validates
// ImportPlaybackKeyPair's input); it is repeated here so that this package stays a leaf that does not import the
// provider.
func ParsePublicKeyPEM(material string) (*ecdsa.PublicKey, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(material)))
	if block == nil {
		return nil, errors.New("not a PEM-encoded public key")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q, not \"PUBLIC KEY\"", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a valid public key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P384() {
		return nil, errors.New("not an ECDSA P-384 (secp384r1) public key")
	}
	return ec, nil
}

// Claims are a verified viewer token's claims.
type Claims struct {
	ChannelARN string // aws:channel-arn
	// AllowOrigin is aws:access-control-allow-origin as given: "" (any origin), "*", or a comma-separated list of
	// origins, each possibly with a wildcard host (https://*.example.com). See Claims.Check.
	AllowOrigin          string
	StrictOrigin         bool   // aws:strict-origin-enforcement
	SingleUseUUID        string // aws:single-use-uuid
	ViewerID             string // aws:viewer-id
	ViewerSessionVersion int64  // aws:viewer-session-version (a JSON number or a numeric string); 0 when absent
	MaxResolution        string // aws:maximum-resolution: ResolutionSD, ResolutionHD, ResolutionFullHD or ""
	Expires              time.Time
	KeyARN               string // the key pair whose public key verified the signature
}

// parser does the JWT mechanics: it is only asked to split and decode (ParseUnverified); VerifyViewerToken checks
// the algorithm and the signature itself, since it tries several keys and must know which one verified.
var parser = jwt.NewParser(
	jwt.WithValidMethods([]string{jwt.SigningMethodES384.Alg()}),
	jwt.WithStrictDecoding(), // one encoding per token: no stray bits in the last base64url character
	jwt.WithoutClaimsValidation(),
)

// VerifyViewerToken verifies a private channel's playback token for channelARN, at now, against keys: the playback
// key pairs of the channel's account and region. Errors are *Refusal, checked in this order:
//
//   - empty → ReasonTokenMissing;
//   - over MaxTokenBytes, not three base64url segments, header or payload not JSON, a crit header → ReasonTokenMalformed (400);
//   - alg not exactly "ES384" ("none" included) → ReasonAlgorithm, before any key is tried;
//   - no key verifies the signature (raw r||s, 96 bytes), or keys is empty → ReasonSignature. Each key is tried,
//     the one a kid header names first;
//   - the payload is not one JSON object with distinct members → ReasonTokenMalformed; a claim of the wrong type
//     or out of range, or exp missing → ReasonClaims;
//   - aws:channel-arn is not channelARN → ReasonChannel;
//   - exp not after now → ReasonExpired;
//   - aws:single-use-uuid or aws:viewer-id present and exp after now + MaxShortLivedExp (+ ShortLivedSkew) → ReasonExpTooFar.
//
// It does not consume a single-use token (SingleUse.Use), nor check origins (Claims.Check) or revocations
// (Claims.CheckRevoked): the caller does, once the token is known to be good.
func VerifyViewerToken(token string, keys []Key, channelARN string, now time.Time) (*Claims, error) {
	if token == "" {
		return nil, Refuse(ReasonTokenMissing, "this channel is private: the playback URL needs a token query parameter")
	}
	if len(token) > MaxTokenBytes {
		return nil, Refuse(ReasonTokenMalformed, "the token is longer than 16 KB")
	}
	header, r := decodeHeader(token)
	if r != nil {
		return nil, r
	}
	if alg, _ := header["alg"].(string); alg != jwt.SigningMethodES384.Alg() {
		return nil, Refuse(ReasonAlgorithm, "the token's alg must be ES384")
	}
	if _, ok := header["crit"]; ok {
		return nil, Refuse(ReasonTokenMalformed, "crit header extensions are not supported")
	}
	var raw jwtjson.RawPayload
	t, parts, err := parser.ParseUnverified(token, &raw)
	if err != nil || t.Method == nil || t.Method.Alg() != jwt.SigningMethodES384.Alg() {
		return nil, Refuse(ReasonTokenMalformed, "not a well-formed JWT")
	}
	signed := token[:len(parts[0])+1+len(parts[1])]
	keyARN, ok := verifySignature(signed, t.Signature, keys, header)
	if !ok {
		if len(keys) == 0 {
			return nil, Refuse(ReasonSignature, "the channel's account has no playback key pair in this region")
		}
		return nil, Refuse(ReasonSignature, "the token's signature does not verify with any playback key pair of the channel's account")
	}
	c, r := decodeClaims(raw.B)
	if r != nil {
		return nil, r
	}
	c.KeyARN = keyARN
	if c.ChannelARN != channelARN {
		return nil, Refuse(ReasonChannel, "the token's aws:channel-arn is not this channel")
	}
	if !c.Expires.After(now) {
		return nil, Refuse(ReasonExpired, "the token has expired (exp)")
	}
	if (c.SingleUseUUID != "" || c.ViewerID != "") && c.Expires.After(now.Add(MaxShortLivedExp+ShortLivedSkew)) {
		return nil, Refuse(ReasonExpTooFar, "a token with aws:single-use-uuid or aws:viewer-id may expire at most 10 minutes after it is used")
	}
	return c, nil
}

// verifySignature returns the ARN of the first key that verifies sig over signed: the key a kid header names
// first (if any), then the others in order.
func verifySignature(signed string, sig []byte, keys []Key, header map[string]any) (string, bool) {
	if len(sig) != 96 { // ES384 is raw r||s, 48 bytes each: a DER signature or a truncated one never verifies
		return "", false
	}
	first := -1
	if kid, _ := header["kid"].(string); kid != "" {
		for i, k := range keys {
			if k.ARN == kid {
				first = i
				break
			}
		}
	}
	try := func(k Key) bool {
		if k.PublicKey == nil || k.PublicKey.Curve != elliptic.P384() {
			return false
		}
		return jwt.SigningMethodES384.Verify(signed, sig, k.PublicKey) == nil
	}
	if first >= 0 && try(keys[first]) {
		return keys[first].ARN, true
	}
	for i, k := range keys {
		if i != first && try(k) {
			return k.ARN, true
		}
	}
	return "", false
}

// decodeHeader decodes the JOSE header of a compact JWS with exactly three segments.
func decodeHeader(token string) (map[string]any, *Refusal) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return nil, Refuse(ReasonTokenMalformed, "the token is not a JWT (three base64url segments separated by dots)")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, Refuse(ReasonTokenMalformed, "the token's header is not base64url")
	}
	var header map[string]any
	if err := json.Unmarshal(b, &header); err != nil || header == nil {
		return nil, Refuse(ReasonTokenMalformed, "the token's header is not a JSON object")
	}
	return header, nil
}

// Claim names.
const (
	claimChannelARN    = "aws:channel-arn"
	claimAllowOrigin   = "aws:access-control-allow-origin"
	claimStrictOrigin  = "aws:strict-origin-enforcement"
	claimSingleUseUUID = "aws:single-use-uuid"
	claimViewerID      = "aws:viewer-id"
	claimViewerVersion = "aws:viewer-session-version"
	claimMaxResolution = "aws:maximum-resolution"
	claimExp           = "exp"
)

// decodeClaims decodes and checks the claims that do not depend on the request: types, presence of exp, bounds.
func decodeClaims(payload []byte) (*Claims, *Refusal) {
	fields, err := jwtjson.ObjectFields(payload)
	if err != nil {
		return nil, Refuse(ReasonTokenMalformed, "the token's payload is not a JSON object: "+err.Error())
	}
	bad := func(err error) *Refusal { return Refuse(ReasonClaims, err.Error()) }
	c := new(Claims)
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{claimChannelARN, &c.ChannelARN}, {claimAllowOrigin, &c.AllowOrigin}, {claimSingleUseUUID, &c.SingleUseUUID},
		{claimViewerID, &c.ViewerID}, {claimMaxResolution, &c.MaxResolution},
	} {
		if *s.dst, err = stringClaim(fields, s.name); err != nil {
			return nil, bad(err)
		}
	}
	if c.StrictOrigin, err = boolClaim(fields, claimStrictOrigin); err != nil {
		return nil, bad(err)
	}
	if c.ViewerSessionVersion, err = int64Claim(fields, claimViewerVersion); err != nil {
		return nil, bad(err)
	}
	exp, hasExp, err := jwtjson.DateClaim(fields, claimExp)
	if err != nil {
		return nil, bad(err)
	}
	if !hasExp {
		return nil, Refuse(ReasonClaims, "the token has no exp")
	}
	c.Expires = exp

	if c.ChannelARN == "" {
		return nil, Refuse(ReasonChannel, "the token has no aws:channel-arn")
	}
	switch strings.ToUpper(c.MaxResolution) {
	case "":
	case ResolutionSD, ResolutionHD, ResolutionFullHD:
		c.MaxResolution = strings.ToUpper(c.MaxResolution)
	default:
		return nil, Refuse(ReasonClaims, "aws:maximum-resolution must be SD, HD or FULL_HD")
	}
	if n := utf8.RuneCountInString(c.ViewerID); n > MaxViewerIDChars {
		return nil, Refuse(ReasonClaims, "aws:viewer-id is longer than 40 characters")
	}
	if len(c.SingleUseUUID) > MaxSingleUseUUIDBytes {
		return nil, Refuse(ReasonClaims, "aws:single-use-uuid is longer than 128 bytes")
	}
	origins, err := parseAllowList(c.AllowOrigin)
	if err != nil {
		return nil, Refuse(ReasonClaims, "aws:access-control-allow-origin: "+err.Error())
	}
	if c.StrictOrigin && len(origins.entries) > MaxStrictOrigins {
		return nil, Refuse(ReasonClaims, "aws:access-control-allow-origin lists more than 5 origins with aws:strict-origin-enforcement")
	}
	return c, nil
}

// Check applies the token's origin restriction to one playback request: multivariant is true for the playbackUrl
// (multivariant playlist) request, false for variant playlists, segments and parts. origin is the request's Origin
// header ("" when absent).
//
// Without aws:access-control-allow-origin (or with "*") every request is allowed. Otherwise, without strict
// enforcement only the multivariant request is checked, and only when it carries an Origin (browsers do; IVS says
// the restriction does not apply to non-browser clients); with strict enforcement every request must carry an
// allowed Origin. Refusals are ReasonOrigin.
func (c *Claims) Check(origin string, multivariant bool) error {
	return checkRequestOrigin(c.AllowOrigin, c.StrictOrigin, origin, multivariant, false)
}

// CheckRevoked refuses (ReasonRevoked) a token whose viewer sessions were revoked: revokedThrough returns the
// highest revoked aws:viewer-session-version of a viewer on a channel (StartViewerSessionRevocation's
// viewerSessionVersionsLessThanOrEqualTo), ok false when none was revoked. Tokens without aws:viewer-id cannot be
// revoked and never call it.
func (c *Claims) CheckRevoked(revokedThrough func(channelARN, viewerID string) (version int64, ok bool)) error {
	if c.ViewerID == "" || revokedThrough == nil {
		return nil
	}
	if v, ok := revokedThrough(c.ChannelARN, c.ViewerID); ok && c.ViewerSessionVersion <= v {
		return Refuse(ReasonRevoked, "this viewer session was revoked; a token with a higher aws:viewer-session-version is needed")
	}
	return nil
}
