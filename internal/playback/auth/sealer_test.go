package auth

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

// payload60 is a payload like the one the playback front seals: channel, session, rendition, viewer.
var payload60 = []byte("AbCdEfGhIjKl|st-1AbCdEfGhIjKlMnOpQrStUv|720p60|viewer-42|v7")

func TestSealerRoundTrip(t *testing.T) {
	s := NewSealer(testSecret)
	exp := testNow.Add(time.Hour)
	for _, p := range [][]byte{nil, {}, {0}, payload60, bytes.Repeat([]byte{0xff}, 1000)} {
		tok := s.Seal(p, exp)
		if url.PathEscape(tok) != tok || strings.ContainsAny(tok, "=/+.") {
			t.Fatalf("sealed string %q is not URL-path safe", tok)
		}
		got, err := s.Open(tok, testNow)
		if err != nil {
			t.Fatalf("payload %d bytes: %v", len(p), err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("payload %q, want %q", got, p)
		}
	}
	tok := s.Seal(payload60, exp)
	if len(tok) >= 200 {
		t.Fatalf("a %d-byte payload seals to %d characters", len(payload60), len(tok))
	}
	t.Logf("a %d-byte payload seals to %d characters", len(payload60), len(tok))
}

func TestSealerExpiry(t *testing.T) {
	s := NewSealer(testSecret)
	exp := testNow.Add(time.Minute)
	tok := s.Seal(payload60, exp)
	if _, err := s.Open(tok, exp.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	wantOpenAt(t, s, tok, exp, ReasonSessionExpired)
	wantOpenAt(t, s, tok, exp.Add(time.Hour), ReasonSessionExpired)
	// A fractional expiry rounds up to the next second: never earlier than asked.
	frac := testNow.Add(1500 * time.Millisecond)
	tok = s.Seal(nil, frac)
	if _, err := s.Open(tok, frac); err != nil {
		t.Fatalf("at the fractional expiry: %v", err)
	}
	wantOpenAt(t, s, tok, testNow.Add(2*time.Second), ReasonSessionExpired)
	// Expiries before 1970 or after the 40-bit range are clamped, not wrapped around.
	wantOpenAt(t, s, s.Seal(nil, time.Unix(-100, 0)), testNow, ReasonSessionExpired)
	if _, err := s.Open(s.Seal(nil, time.Unix(1<<50, 0)), testNow); err != nil {
		t.Fatalf("far future: %v", err)
	}
}

func wantOpenAt(t *testing.T, s *Sealer, tok string, now time.Time, reason string) {
	t.Helper()
	p, err := s.Open(tok, now)
	if p != nil {
		t.Fatalf("payload returned with a refusal")
	}
	wantRefusal(t, err, reason)
}

func wantOpenRefused(t *testing.T, s *Sealer, tok string, reason string) {
	t.Helper()
	p, err := s.Open(tok, testNow)
	if p != nil {
		t.Fatalf("payload returned with a refusal")
	}
	wantRefusal(t, err, reason)
}

// Changing any byte of the sealed data (version, expiry, payload, tag) is refused.
func TestSealerTamper(t *testing.T) {
	s := NewSealer(testSecret)
	tok := s.Seal(payload60, testNow.Add(time.Hour))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			wantOpenRefused(t, s, base64.RawURLEncoding.EncodeToString(b), ReasonURLSignature)
		}
	}
	// And any character of the string.
	for i := range tok {
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		wantOpenRefused(t, s, tok[:i]+string(c)+tok[i+1:], ReasonURLSignature)
	}
	for name, bad := range map[string]string{
		"empty":          "",
		"truncated":      tok[:len(tok)-1],
		"tag cut":        base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"extended":       tok + "A",
		"padded":         tok + "==",
		"std base64":     base64.StdEncoding.EncodeToString(raw),
		"header only":    base64.RawURLEncoding.EncodeToString(raw[:6]),
		"too long":       strings.Repeat("A", MaxSealedBytes+1),
		"payload swap":   base64.RawURLEncoding.EncodeToString(append(append(bytes.Clone(raw[:6]), []byte("other payload")...), raw[len(raw)-16:]...)),
		"another secret": NewSealer(otherSecret).Seal(payload60, testNow.Add(time.Hour)),
	} {
		t.Run(name, func(t *testing.T) { wantOpenRefused(t, s, bad, ReasonURLSignature) })
	}
}

func TestSealerRotation(t *testing.T) {
	old := NewSealer(otherSecret)
	rotated := NewSealer(testSecret, otherSecret)
	tok := old.Seal(payload60, testNow.Add(time.Hour))
	if p, err := rotated.Open(tok, testNow); err != nil || !bytes.Equal(p, payload60) {
		t.Fatalf("a previous secret's string: %v", err)
	}
	// New strings are sealed with the first secret only.
	wantOpenRefused(t, old, rotated.Seal(payload60, testNow.Add(time.Hour)), ReasonURLSignature)
	if _, err := NewSealer(testSecret).Open(rotated.Seal(nil, testNow.Add(time.Hour)), testNow); err != nil {
		t.Fatal(err)
	}
}

func TestSealerShortSecretPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewSealer([]byte("short"))
}

func TestSealerConcurrent(t *testing.T) {
	s := NewSealer(testSecret, otherSecret)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []byte{byte(i)}
			for range 500 {
				got, err := s.Open(s.Seal(p, testNow.Add(time.Minute)), testNow)
				if err != nil || !bytes.Equal(got, p) {
					t.Errorf("round trip: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
