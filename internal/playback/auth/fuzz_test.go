package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

var knownReasons = map[string]bool{
	ReasonTokenMissing: true, ReasonTokenMalformed: true, ReasonAlgorithm: true, ReasonSignature: true,
	ReasonClaims: true, ReasonChannel: true, ReasonExpired: true, ReasonExpTooFar: true,
	ReasonSingleUseReplayed: true, ReasonOrigin: true, ReasonRevoked: true, ReasonCountry: true,
	ReasonSessionExpired: true, ReasonURLSignature: true, ReasonUnavailable: true,
}

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	r, ok := AsRefusal(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *Refusal", err, err)
	}
	if !knownReasons[r.Reason] || r.Status != StatusOf(r.Reason) || r.Message == "" {
		t.Fatalf("refusal %+v", r)
	}
}

// FuzzVerifyViewerToken feeds VerifyViewerToken arbitrary tokens (they come from the network, in ?token=): it must
// never panic, must answer every refusal with a *Refusal of a known reason, and must return only claims that satisfy
// what it promises. The keys are derived from labels and the clock is fixed, so that the seeds stay valid in every
// fuzzing worker.
func FuzzVerifyViewerToken(f *testing.F) {
	k1, k2, k3 := fixedKey(f, "one"), fixedKey(f, "two"), fixedKey(f, "three")
	keys := keysOf(k1, k2, k3)
	exp := testNow.Add(5 * time.Minute).Unix()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	good := sign(f, k3, claims(nil), nil)
	for _, seed := range []string{
		good,
		sign(f, k1, claims(map[string]any{
			"aws:access-control-allow-origin": "https://a.example.com,https://*.example.org",
			"aws:strict-origin-enforcement":   true, "aws:single-use-uuid": "8f2bd7a4-4b0c-4f0a-9d62-2c4c1c3b1a7e",
			"aws:viewer-id": "viewer-42", "aws:viewer-session-version": "7", "aws:maximum-resolution": "HD",
		}), map[string]any{"kid": keyARN1}),
		handSign(f, k2, `{"alg":"ES384","typ":"JWT"}`, `{"aws:channel-arn":"`+testChannelARN+`","exp":`+mustJSON(f, exp)+`.5}`),
		sign(f, k1, claims(map[string]any{"aws:channel-arn": otherChannelARN}), nil),
		sign(f, k1, claims(map[string]any{"exp": testNow.Add(-time.Minute).Unix()}), nil),
		sign(f, fixedKey(f, "other"), claims(nil), nil),
		b64(`{"alg":"none"}`) + "." + b64(mustJSON(f, claims(nil))) + ".",
		b64(`{"alg":"HS256"}`) + "." + b64(mustJSON(f, claims(nil))) + ".c2ln",
		b64(`{"alg":"ES384","crit":["b64"]}`) + "." + b64(`{}`) + ".",
		b64(`{"alg":"ES384"}`) + "." + b64(`[]`) + "." + strings.Repeat("A", 128),
		"", ".", "..", "...", "a.b.c", "eyJ.eyJ.", strings.SplitN(good, ".", 2)[0] + ".%%%.x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := VerifyViewerToken(token, keys, testChannelARN, testNow)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			checkRefusal(t, err)
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatal("the refusal quotes the token")
			}
			return
		}
		if c.ChannelARN != testChannelARN || !c.Expires.After(testNow) {
			t.Fatalf("accepted claims break the rules: %+v", c)
		}
		if (c.SingleUseUUID != "" || c.ViewerID != "") && c.Expires.After(testNow.Add(MaxShortLivedExp+ShortLivedSkew)) {
			t.Fatalf("accepted a short-lived token expiring too late: %+v", c)
		}
		if c.KeyARN != keyARN1 && c.KeyARN != keyARN2 && c.KeyARN != keyARN3 {
			t.Fatalf("KeyARN %q", c.KeyARN)
		}
		switch c.MaxResolution {
		case "", ResolutionSD, ResolutionHD, ResolutionFullHD:
		default:
			t.Fatalf("MaxResolution %q", c.MaxResolution)
		}
		// Whatever the token allows, applying it to a request must not panic.
		_ = c.Check("https://a.example.com", true)
		_ = c.Check("", false)
	})
}

// FuzzSealerOpen feeds Sealer.Open arbitrary strings (they come from the network, in URL paths): it must never
// panic, must refuse with ReasonURLSignature or ReasonSessionExpired, and may accept only what Seal produced.
func FuzzSealerOpen(f *testing.F) {
	s := NewSealer(testSecret, otherSecret)
	for _, seed := range []string{
		s.Seal(payload60, testNow.Add(time.Hour)),
		s.Seal(nil, testNow.Add(time.Hour)),
		s.Seal(payload60, testNow.Add(-time.Hour)),
		NewSealer(otherSecret).Seal([]byte("rotated"), testNow.Add(time.Hour)),
		NewSealer([]byte("an unknown secret, 32 bytes long")).Seal(payload60, testNow.Add(time.Hour)),
		"", "A", "AQAAAAAA", strings.Repeat("_", 30), strings.Repeat("-", MaxSealedBytes+1), "AQ==", "ab+/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := s.Open(tok, testNow)
		if err != nil {
			if p != nil {
				t.Fatal("payload returned with an error")
			}
			checkRefusal(t, err)
			if r, _ := AsRefusal(err); r.Reason != ReasonURLSignature && r.Reason != ReasonSessionExpired {
				t.Fatalf("reason %q", r.Reason)
			}
			return
		}
		// Accepted: it must be exactly what Seal makes of this payload with some expiry after now.
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		if len(raw) != sealHeader+len(p)+sealTagBytes {
			t.Fatalf("accepted %q: payload %d bytes of %d", tok, len(p), len(raw))
		}
	})
}

// FuzzCheckOrigin feeds the origin matcher arbitrary allow lists and Origin headers (the header comes from the
// network, the list from a token): it must never panic, and an allowed non-empty origin must be one that parses.
func FuzzCheckOrigin(f *testing.F) {
	for _, seed := range [][2]string{
		{"https://a.example.com", "https://a.example.com"},
		{"https://*.example.com,http://localhost:3000", "https://x.example.com"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"*", "null"},
		{"https://a.com:443/", "HTTPS://A.COM"},
		{"https://*.", "https://."},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, allow, origin string) {
		err := CheckOrigin(allow, origin)
		l, perr := parseAllowList(allow)
		if err == nil && perr == nil && !l.any {
			if _, e := parseOrigin(origin, false); e != nil {
				t.Fatalf("CheckOrigin(%q, %q) allowed an origin that does not parse: %v", allow, origin, e)
			}
		}
		if err != nil {
			checkRefusal(t, err)
		}
		for _, strict := range []bool{false, true} {
			_ = (&Claims{AllowOrigin: allow, StrictOrigin: strict}).Check(origin, true)
			_ = Policy{AllowedOrigins: strings.Split(allow, ","), StrictOriginEnforcement: strict}.Check(origin, "US", false)
		}
	})
}
