package auth

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Reasons a playback request is refused: Refusal.Reason is one of them. They are stable: players and operators may
// match on them.
const (
	ReasonTokenMissing      = "token_missing"      // a private channel's playbackUrl without ?token=
	ReasonTokenMalformed    = "token_malformed"    // not a JWT: segments, base64url, JSON, too long, crit header (HTTP 400)
	ReasonAlgorithm         = "token_algorithm"    // alg is not ES384 ("none", HS256, ES256, RS256…)
	ReasonSignature         = "token_signature"    // no playback key pair of the account verifies the signature
	ReasonClaims            = "token_claims"       // a claim is missing (exp), of the wrong type, or out of range
	ReasonChannel           = "token_channel"      // aws:channel-arn is not the channel played
	ReasonExpired           = "token_expired"      // exp has passed
	ReasonExpTooFar         = "token_exp_too_far"  // a single-use or viewer-id token with exp over 10 minutes away
	ReasonSingleUseReplayed = "token_already_used" // a single-use token used a second time
	ReasonOrigin            = "origin_not_allowed" // Origin is missing (strict) or not allowed
	ReasonRevoked           = "viewer_session_revoked"
	ReasonCountry           = "country_not_allowed" // the viewer's country is not allowed, or unknown
	ReasonSessionExpired    = "session_expired"     // a URL handed out by the server has expired: reload the playbackUrl
	ReasonURLSignature      = "url_signature"       // a URL handed out by the server was altered or not ours
	// ReasonUnavailable is a temporary refusal (HTTP 503): the single-use memory is full.
	ReasonUnavailable = "unavailable"
)

// Values of the "error" member of a refusal's body.
const (
	ErrorAuth        = "playback_auth_error"        // token, signed URL and revocation refusals
	ErrorRestriction = "playback_restriction_error" // playback restriction policy refusals
)

// Refusal is a playback refusal: an HTTP status (403; 400 for a malformed token; 503 for ReasonUnavailable) and a
// JSON body naming the reason. Its message never contains the token.
type Refusal struct {
	Status  int
	Reason  string
	Message string
	// Restriction marks a refusal by the channel's playback restriction policy (body error
	// "playback_restriction_error"); otherwise the body error is "playback_auth_error".
	Restriction bool
}

// Refuse returns the Refusal for reason, with the status that reason implies.
func Refuse(reason, message string) *Refusal {
	return &Refusal{Status: StatusOf(reason), Reason: reason, Message: message}
}

// StatusOf is the HTTP status of a refusal for reason: 400 for ReasonTokenMalformed, 503 for ReasonUnavailable,
// 403 otherwise.
func StatusOf(reason string) int {
	switch reason {
	case ReasonTokenMalformed:
		return http.StatusBadRequest
	case ReasonUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusForbidden
}

func restriction(reason, message string) *Refusal {
	r := Refuse(reason, message)
	r.Restriction = true
	return r
}

// Error implements error.
func (r *Refusal) Error() string {
	kind := "playback refused"
	if r.Restriction {
		kind = "playback restricted"
	}
	if r.Message == "" {
		return kind + ": " + r.Reason
	}
	return kind + ": " + r.Reason + ": " + r.Message
}

// Body is the JSON body of a refusal.
type Body struct {
	Error   string `json:"error"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Body returns the refusal's JSON body.
func (r *Refusal) Body() Body {
	e := ErrorAuth
	if r.Restriction {
		e = ErrorRestriction
	}
	return Body{Error: e, Reason: r.Reason, Message: r.Message}
}

// WriteJSON writes the refusal: its status, Content-Type application/json, Cache-Control no-store (a refusal depends
// on the viewer and the moment), and the body {"error":…,"reason":…,"message":…}.
func (r *Refusal) WriteJSON(w http.ResponseWriter) {
	b, _ := json.Marshal(r.Body()) // strings only: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	status := r.Status
	if status == 0 {
		status = StatusOf(r.Reason)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// AsRefusal returns the *Refusal in err's chain.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}
