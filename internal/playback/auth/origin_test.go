package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	for _, tc := range []struct {
		allow, origin string
		ok            bool
	}{
		{"", "", true},
		{"", "https://anything.example", true},
		{"*", "https://anything.example", true},
		{"*", "", true},
		{" * ", "null", true},
		{"https://a.example.com", "https://a.example.com", true},
		{"https://a.example.com", "https://A.Example.COM", true},
		{"HTTPS://A.example.com", "https://a.example.com", true},
		{"https://a.example.com/", "https://a.example.com", true},
		{"https://a.example.com", "http://a.example.com", false},
		{"https://a.example.com", "https://b.example.com", false},
		{"https://a.example.com", "https://a.example.com.evil.net", false},
		{"https://a.example.com", "https://evil-a.example.com", false},
		{"https://a.example.com", "https://a.example.com:8443", false},
		{"https://a.example.com:8443", "https://a.example.com:8443", true},
		{"https://a.example.com:8443", "https://a.example.com", false},
		{"https://a.example.com:443", "https://a.example.com", true},
		{"https://a.example.com", "https://a.example.com:443", true},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"http://localhost:3000", "http://localhost:3001", false},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://a.example.com", "", false},
		{"https://a.example.com", "null", false},
		{"https://a.example.com", "https://a.example.com/path", false},
		{"https://a.example.com", "https://user@a.example.com", false},
		{"https://a.example.com", "a.example.com", false},
		// Lists.
		{"https://a.com,https://b.com", "https://b.com", true},
		{"https://a.com, https://b.com ,", "https://b.com", true},
		{"https://a.com,https://b.com", "https://c.com", false},
		{"https://a.com,*", "https://c.com", true},
		// Wildcard hosts.
		{"https://*.amazon.com", "https://www.amazon.com", true},
		{"https://*.amazon.com", "https://a.b.amazon.com", true},
		{"https://*.amazon.com", "https://amazon.com", false},
		{"https://*.amazon.com", "https://evilamazon.com", false},
		{"https://*.amazon.com", "https://www.amazon.com.evil.net", false},
		{"https://*.amazon.com", "http://www.amazon.com", false},
		{"https://*.amazon.com:8443", "https://www.amazon.com:8443", true},
		{"https://*.amazon.com:8443", "https://www.amazon.com", false},
		{"https://a.com", "https://*.a.com", false}, // a wildcard is not a valid Origin header
		// An invalid list allows nothing.
		{"a.com", "https://a.com", false},
		{"https://a.com/path", "https://a.com", false},
		{"https://a.com:0", "https://a.com", false},
		{"https://a.com:99999", "https://a.com", false},
		{"https://a.com:+80", "https://a.com", false},
		{"https://*", "https://a.com", false},
		{"https://*.", "https://a.com", false},
	} {
		err := CheckOrigin(tc.allow, tc.origin)
		if tc.ok && err != nil {
			t.Errorf("CheckOrigin(%q, %q): %v", tc.allow, tc.origin, err)
		}
		if !tc.ok {
			if err == nil {
				t.Errorf("CheckOrigin(%q, %q) allowed", tc.allow, tc.origin)
				continue
			}
			if r, ok := AsRefusal(err); !ok || r.Reason != ReasonOrigin || r.Status != http.StatusForbidden || r.Restriction {
				t.Errorf("CheckOrigin(%q, %q): %#v", tc.allow, tc.origin, err)
			}
		}
	}
}

func TestClaimsCheck(t *testing.T) {
	const allowed, denied = "https://a.example.com", "https://evil.example"
	for _, tc := range []struct {
		allow         string
		strict        bool
		origin        string
		multivariant  bool
		ok            bool
		documentation string
	}{
		{"", false, denied, true, true, "no restriction"},
		{"", true, "", false, true, "strict without a list restricts nothing"},
		{"*", true, "", false, true, "strict with * allows anything"},
		{allowed, false, allowed, true, true, "allowed origin"},
		{allowed, false, denied, true, false, "multivariant with a wrong origin"},
		{allowed, false, "", true, true, "non-browser clients are not restricted without strict"},
		{allowed, false, denied, false, true, "variant and segment requests are not checked without strict"},
		{allowed, true, allowed, false, true, "strict, allowed origin on a segment"},
		{allowed, true, denied, false, false, "strict, wrong origin on a segment"},
		{allowed, true, "", false, false, "strict: every request needs an Origin"},
		{allowed, true, "", true, false, "strict: the multivariant request too"},
	} {
		c := Claims{AllowOrigin: tc.allow, StrictOrigin: tc.strict}
		err := c.Check(tc.origin, tc.multivariant)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.documentation, err)
		}
		if !tc.ok {
			if err == nil {
				t.Errorf("%s: allowed", tc.documentation)
				continue
			}
			r := wantRefusal(t, err, ReasonOrigin)
			if r.Restriction {
				t.Errorf("%s: a token refusal marked as a restriction", tc.documentation)
			}
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	geo := Policy{AllowedCountries: []string{"US", "ca"}}
	web := Policy{AllowedOrigins: []string{"https://a.example.com", "https://*.b.example.com"}}
	strict := Policy{AllowedOrigins: []string{"https://a.example.com"}, StrictOriginEnforcement: true}
	both := Policy{AllowedCountries: []string{"JP"}, AllowedOrigins: []string{"https://a.example.com"}}
	for _, tc := range []struct {
		name            string
		p               Policy
		origin, country string
		multivariant    bool
		reason          string // "" = allowed
	}{
		{"empty policy", Policy{}, "https://x.example", "", true, ""},
		{"empty lists", Policy{AllowedCountries: []string{}, AllowedOrigins: []string{}, StrictOriginEnforcement: true}, "", "", false, ""},
		{"allowed country", geo, "", "US", true, ""},
		{"allowed country, any case", geo, "", "CA", false, ""},
		{"allowed country, lower case viewer", geo, "", "us", false, ""},
		{"country not allowed, multivariant", geo, "", "FR", true, ReasonCountry},
		{"country not allowed, segment", geo, "", "FR", false, ReasonCountry},
		{"unknown country", geo, "", "", true, ReasonCountry},
		{"unknown country, segment", geo, "", "", false, ReasonCountry},
		{"allowed origin", web, "https://a.example.com", "", true, ""},
		{"allowed wildcard origin", web, "https://x.b.example.com", "FR", true, ""},
		{"origin not allowed", web, "https://evil.example", "", true, ReasonOrigin},
		{"origin not allowed on a segment, not strict", web, "https://evil.example", "", false, ""},
		{"no origin, not strict", web, "", "", true, ""},
		{"strict, no origin, segment", strict, "", "", false, ReasonOrigin},
		{"strict, wrong origin, segment", strict, "https://evil.example", "", false, ReasonOrigin},
		{"strict, allowed origin, segment", strict, "https://a.example.com", "", false, ""},
		{"both, country refused first", both, "https://evil.example", "FR", true, ReasonCountry},
		{"both, origin refused", both, "https://evil.example", "JP", true, ReasonOrigin},
		{"both, allowed", both, "https://a.example.com", "JP", true, ""},
		{"star origin", Policy{AllowedOrigins: []string{"*"}, StrictOriginEnforcement: true}, "", "", false, ""},
		{"invalid entries match nothing", Policy{AllowedOrigins: []string{"not an origin"}}, "https://a.example.com", "", true, ReasonOrigin},
	} {
		err := tc.p.Check(tc.origin, tc.country, tc.multivariant)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: allowed", tc.name)
			continue
		}
		r := wantRefusal(t, err, tc.reason)
		if !r.Restriction || r.Body().Error != ErrorRestriction {
			t.Errorf("%s: not a restriction refusal: %+v", tc.name, r)
		}
	}
	// The unknown-country message says how to configure detection.
	r, _ := AsRefusal(geo.Check("", "", true))
	for _, want := range []string{"unknown", "CloudFront-Viewer-Country", "MaxMind"} {
		if !strings.Contains(r.Message, want) {
			t.Errorf("unknown-country message %q does not mention %q", r.Message, want)
		}
	}
}

func TestRefusalWriteJSON(t *testing.T) {
	for _, tc := range []struct {
		r          *Refusal
		status     int
		errorValue string
	}{
		{Refuse(ReasonSingleUseReplayed, "used"), 403, "playback_auth_error"},
		{Refuse(ReasonTokenMalformed, "bad"), 400, "playback_auth_error"},
		{Refuse(ReasonUnavailable, "full"), 503, "playback_auth_error"},
		{restriction(ReasonCountry, "FR"), 403, "playback_restriction_error"},
		{&Refusal{Reason: ReasonExpired, Message: "zero status"}, 403, "playback_auth_error"},
	} {
		w := httptest.NewRecorder()
		tc.r.WriteJSON(w)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.r.Reason, w.Code, tc.status)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", w.Body, err)
		}
		want := map[string]string{"error": tc.errorValue, "reason": tc.r.Reason, "message": tc.r.Message}
		if len(body) != 3 || body["error"] != want["error"] || body["reason"] != want["reason"] || body["message"] != want["message"] {
			t.Errorf("body %v, want %v", body, want)
		}
	}
	if got := Refuse(ReasonExpired, "x").Error(); got != "playback refused: token_expired: x" {
		t.Errorf("Error() = %q", got)
	}
}
