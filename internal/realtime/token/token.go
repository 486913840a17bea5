// Package token issues and verifies IVS real-time participant tokens.
//
// A participant token is a JWT signed with ES384 (ECDSA P-384, SHA-384, raw r||s signature) whose payload carries the
// claims IVS puts there (see Claims). Two kinds are accepted:
//
//   - server tokens, issued by this server (CreateParticipantToken, CreateStage) with one of its own keys; the JWT
//     header's kid is a server key id (see Issuer);
//   - self-signed tokens, made by a customer's backend with the private half of a key imported with ImportPublicKey;
//     the kid is the public key's ARN and the key is found through Lookup.
//
// Real IVS signs its own tokens with alg "KMS" and a DER signature; this server does not imitate that, since clients
// treat tokens as opaque: it signs with ES384 like a self-signed token, and only ES384 is ever accepted.
package token

import (
	"errors"
	"time"
)

// Limits, as IVS documents them.
const (
	// MaxTokenBytes is the longest token Verify looks at; longer ones are refused as malformed without parsing.
	MaxTokenBytes = 16 * 1024
	// MaxLifetime is the longest a token may live (exp − iat): 20160 minutes, CreateParticipantToken's maximum duration.
	MaxLifetime = 20160 * time.Minute
	// DefaultLifetime is the lifetime Issue gives a token whose ExpiresAt is zero: 720 minutes, IVS's default duration.
	DefaultLifetime = 720 * time.Minute
	// MaxAttributesBytes bounds the total size of the attributes (keys plus values, in bytes).
	MaxAttributesBytes = 1024
	// MaxUserIDChars bounds user_id, in characters (Unicode code points).
	MaxUserIDChars = 128
	// DefaultLeeway is the clock skew Verify allows on exp, iat and nbf when Verifier.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// DefaultVersion is the version claim of tokens this server issues (IVS-issued tokens carry "0.0").
	DefaultVersion = "0.0"
)

// Capabilities of a participant.
type Capabilities struct{ Publish, Subscribe bool }

// Claims are a participant token's claims, as IVS puts them in the JWT payload:
//
//	exp, iat, jti (= participant id), resource (stage ARN), topic (stage id), events_url, whip_url, user_id,
//	attributes (a string map, omitted when empty), capabilities {"allow_publish":bool,"allow_subscribe":bool}, version.
type Claims struct {
	ParticipantID string
	StageARN      string
	StageID       string
	EventsURL     string
	WHIPURL       string
	UserID        string
	Attributes    map[string]string
	Capabilities  Capabilities
	IssuedAt      time.Time // zero when a self-signed token has no iat
	ExpiresAt     time.Time
	Version       string
	KeyID         string // the JWT kid: a server key id, or the public-key ARN of a self-signed token
	SelfSigned    bool   // signed with an imported public key rather than by this server
}

// Reasons a token is refused; Error.Reason is one of them.
const (
	ReasonMalformed    = "malformed"     // not a JWT, bad base64 or JSON, no kid, crit header, too long, duplicate claims
	ReasonAlgorithm    = "algorithm"     // alg is not ES384
	ReasonSignature    = "signature"     // the signature does not verify with the key kid names
	ReasonExpired      = "expired"       // exp has passed (beyond the leeway)
	ReasonNotYetValid  = "not_yet_valid" // nbf, or iat, is in the future (beyond the leeway)
	ReasonWrongStage   = "wrong_stage"   // resource is not a stage ARN, topic is not its id, or not the stage asked for
	ReasonWrongAccount = "wrong_account" // a self-signed token's key belongs to another account than its stage
	ReasonUnknownKey   = "unknown_key"   // kid names no server key (or a retired one) and no imported public key
	ReasonDisconnected = "disconnected"  // the participant was disconnected from the stage
	ReasonClaims       = "claims"        // a claim is missing, of the wrong type, or out of bounds
	// ReasonInternal is an addition to the reasons above: the Lookup failed (the store is unavailable, say).
	// It says nothing about the token; a caller should answer with a server error, not an authorization failure.
	ReasonInternal = "internal"
)

// Error is the error Verify returns. Its message never contains the token.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "participant token refused: " + e.Reason
	}
	return "participant token refused: " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the *Error in err's chain, or "" when there is none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(reason string, err error) *Error { return &Error{Reason: reason, Err: err} }

func refusef(reason, msg string) *Error { return &Error{Reason: reason, Err: errors.New(msg)} }
