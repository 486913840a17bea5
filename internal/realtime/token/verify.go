package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openivs/openivs/internal/jwtjson"
)

// ErrUnknownKey is what Lookup.PublicKey returns for a public key that does not exist (or was deleted).
var ErrUnknownKey = errors.New("unknown key")

// Lookup is what verification needs from the store (implemented by the provider).
type Lookup interface {
	// PublicKey returns an imported public key by its ARN; ErrUnknownKey when it does not exist (or was deleted).
	PublicKey(ctx context.Context, arn string) (*ecdsa.PublicKey, error)
	// Disconnected reports whether the participant was disconnected from the stage (DisconnectParticipant): its token
	// is then refused.
	Disconnected(ctx context.Context, stageARN, participantID string) (bool, error)
}

// Verifier verifies participant tokens.
//
// Issuer verifies server tokens (nil: every server key id is unknown). Lookup finds imported public keys and
// disconnections; with a nil Lookup every self-signed token is refused ("unknown_key") and disconnections are not
// checked, which suits tools and tests only.
type Verifier struct {
	Issuer *Issuer
	Lookup Lookup
	Now    func() time.Time // nil: time.Now
	// Leeway is the clock skew allowed on exp, iat and nbf: 0 means DefaultLeeway (30 s); a negative value means none.
	Leeway time.Duration
}

var parser = jwt.NewParser(
	jwt.WithValidMethods([]string{jwt.SigningMethodES384.Alg()}),
	jwt.WithStrictDecoding(),      // one encoding per token: no stray bits in the last base64 character
	jwt.WithoutClaimsValidation(), // the claims are checked by checkClaims and Verify
)

// Verify checks a token for use on stageARN (empty: any stage) and returns its claims. Errors are *Error with a
// Reason, checked in this order:
//
//   - longer than MaxTokenBytes, not three base64url segments, header not a JSON object → "malformed";
//   - alg not exactly "ES384" → "algorithm" (before any key look-up or signature check);
//   - no kid, or a crit header → "malformed";
//   - kid: a server key id that the Issuer does not hold (unknown or retired), a public-key ARN the Lookup does not know,
//     or anything else → "unknown_key";
//   - the signature (raw r||s, 96 bytes) does not verify → "signature";
//   - the payload is not a JSON object with distinct members → "malformed";
//   - a claim of the wrong type → "claims";
//   - exp missing → "claims"; exp passed (beyond the leeway) → "expired";
//   - nbf or iat in the future (beyond the leeway) → "not_yet_valid";
//   - exp not after iat, or exp − iat over 14 days (without iat: exp over 14 days from now) → "claims";
//   - jti missing or not [a-zA-Z0-9-_]{1,64}, capabilities missing or not an object of booleans, attributes not a
//     string map or over 1 KB, user_id over 128 characters → "claims";
//   - resource not a stage ARN, topic not its id, or resource not stageARN → "wrong_stage";
//   - a self-signed token whose key's account is not the stage's account → "wrong_account";
//   - the participant was disconnected → "disconnected";
//   - the Lookup failed → "internal".
func (v *Verifier) Verify(ctx context.Context, token, stageARN string) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, refusef(ReasonMalformed, "token longer than 16 KB")
	}
	header, err := decodeHeader(token)
	if err != nil {
		return nil, refuse(ReasonMalformed, err)
	}
	if alg, _ := header["alg"].(string); alg != jwt.SigningMethodES384.Alg() {
		return nil, refusef(ReasonAlgorithm, "alg is not ES384")
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return nil, refusef(ReasonMalformed, "no kid")
	}
	if _, ok := header["crit"]; ok {
		return nil, refusef(ReasonMalformed, "crit header extensions are not supported")
	}

	var (
		raw        jwtjson.RawPayload
		keyLooked  bool
		selfSigned bool
		keyAccount string
	)
	_, err = parser.ParseWithClaims(token, &raw, func(t *jwt.Token) (any, error) {
		keyLooked = true
		if t.Method == nil || t.Method.Alg() != jwt.SigningMethodES384.Alg() {
			return nil, refusef(ReasonAlgorithm, "alg is not ES384")
		}
		key, account, self, e := v.key(ctx, kid)
		if e != nil {
			return nil, e
		}
		selfSigned, keyAccount = self, account
		return key, nil
	})
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e):
			return nil, e
		case errors.Is(err, jwt.ErrTokenSignatureInvalid) && keyLooked:
			return nil, refusef(ReasonSignature, "signature does not verify")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return nil, refusef(ReasonAlgorithm, "alg is not ES384")
		default:
			return nil, refusef(ReasonMalformed, "not a well-formed JWT")
		}
	}

	return v.claims(ctx, raw.B, kid, selfSigned, keyAccount, stageARN)
}

// claims decodes and checks a payload whose signature verified with key kid (of account keyAccount if self-signed).
func (v *Verifier) claims(ctx context.Context, payload []byte, kid string, selfSigned bool, keyAccount, stageARN string) (*Claims, error) {
	p, e := decodePayload(payload)
	if e != nil {
		return nil, e
	}
	c := &p.Claims
	c.KeyID, c.SelfSigned = kid, selfSigned

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	leeway := v.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	} else if leeway < 0 {
		leeway = 0
	}
	if !p.hasExp {
		return nil, refusef(ReasonClaims, "exp is missing")
	}
	if !t.Before(p.ExpiresAt.Add(leeway)) {
		return nil, refusef(ReasonExpired, "exp has passed")
	}
	if p.hasNbf && t.Add(leeway).Before(p.NotBefore) {
		return nil, refusef(ReasonNotYetValid, "nbf is in the future")
	}
	if p.hasIat {
		if t.Add(leeway).Before(p.IssuedAt) {
			return nil, refusef(ReasonNotYetValid, "iat is in the future")
		}
		if e := checkLifetime(p.IssuedAt, p.ExpiresAt); e != nil {
			return nil, e
		}
	} else if p.ExpiresAt.Sub(t) > MaxLifetime+leeway {
		return nil, refusef(ReasonClaims, "exp is more than 14 days away")
	}
	if e := checkClaims(c, p.hasCaps); e != nil {
		return nil, e
	}
	if stageARN != "" && c.StageARN != stageARN {
		return nil, refusef(ReasonWrongStage, "token is for another stage")
	}
	if selfSigned {
		if stageAccount, _, _ := stageOf(c.StageARN); stageAccount != keyAccount {
			return nil, refusef(ReasonWrongAccount, "the key and the stage belong to different accounts")
		}
	}
	if v.Lookup != nil {
		gone, err := v.Lookup.Disconnected(ctx, c.StageARN, c.ParticipantID)
		if err != nil {
			return nil, refuse(ReasonInternal, err)
		}
		if gone {
			return nil, refusef(ReasonDisconnected, "the participant was disconnected")
		}
	}
	return c, nil
}

// decodeHeader decodes the JOSE header of a compact JWS with exactly three segments.
func decodeHeader(token string) (map[string]any, error) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return nil, errors.New("not three segments")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	var header map[string]any
	if err := json.Unmarshal(b, &header); err != nil || header == nil {
		return nil, errors.New("header is not a JSON object")
	}
	return header, nil
}

// key resolves a kid to a P-384 public key. For a public-key ARN it also returns the key's account.
func (v *Verifier) key(ctx context.Context, kid string) (key *ecdsa.PublicKey, account string, selfSigned bool, e *Error) {
	if !strings.HasPrefix(kid, "arn:") {
		if v.Issuer != nil {
			if k, ok := v.Issuer.publicKey(kid); ok {
				return k, "", false, nil
			}
		}
		return nil, "", false, refusef(ReasonUnknownKey, "no such server key")
	}
	account, ok := publicKeyAccount(kid)
	if !ok {
		return nil, "", false, refusef(ReasonUnknownKey, "kid is not a public-key ARN")
	}
	if v.Lookup == nil {
		return nil, "", false, refusef(ReasonUnknownKey, "no such public key")
	}
	k, err := v.Lookup.PublicKey(ctx, kid)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return nil, "", false, refuse(ReasonUnknownKey, err)
	case err != nil:
		return nil, "", false, refuse(ReasonInternal, err)
	case k == nil || k.Curve != elliptic.P384():
		return nil, "", false, refusef(ReasonUnknownKey, "the public key is not a P-384 key")
	}
	return k, account, true, nil
}
