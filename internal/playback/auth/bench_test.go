package auth

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkVerifyViewerToken is the worst case of an account with the quota of 3 key pairs: the key that signed is
// the last one tried, so two signature checks fail before the third succeeds.
func BenchmarkVerifyViewerToken(b *testing.B) {
	k1, k2, k3 := fixedKey(b, "one"), fixedKey(b, "two"), fixedKey(b, "three")
	keys := keysOf(k1, k2, k3)
	tok := sign(b, k3, claims(map[string]any{"aws:viewer-id": "viewer-42", "aws:viewer-session-version": 3}), nil)
	b.ReportAllocs()
	for b.Loop() {
		c, err := VerifyViewerToken(tok, keys, testChannelARN, testNow)
		if err != nil || c.KeyARN != keyARN3 {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyViewerTokenFirstKey is the best case: the first key tried verifies (or a kid names it).
func BenchmarkVerifyViewerTokenFirstKey(b *testing.B) {
	k1, k2, k3 := fixedKey(b, "one"), fixedKey(b, "two"), fixedKey(b, "three")
	keys := keysOf(k1, k2, k3)
	tok := sign(b, k3, claims(nil), map[string]any{"kid": keyARN3})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyViewerToken(tok, keys, testChannelARN, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealerOpen(b *testing.B) {
	s := NewSealer(testSecret)
	tok := s.Seal(payload60, testNow.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealerSeal(b *testing.B) {
	s := NewSealer(testSecret)
	exp := testNow.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Seal(payload60, exp)
	}
}

// BenchmarkStrictOriginCheck is the per-segment cost of a strict origin restriction (token or policy).
func BenchmarkStrictOriginCheck(b *testing.B) {
	c := Claims{AllowOrigin: "https://a.example.com,https://*.example.org", StrictOrigin: true}
	p := Policy{AllowedCountries: []string{"US", "CA", "GB"}, AllowedOrigins: []string{"https://a.example.com", "https://*.example.org"},
		StrictOriginEnforcement: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check("https://www.example.org", false); err != nil {
			b.Fatal(err)
		}
		if err := p.Check("https://www.example.org", "GB", false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSingleUse(b *testing.B) {
	var s SingleUse
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
	}
	now := testNow
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		// Each UUID is used once and expires a minute later, so the set stays around 60,000 entries.
		if err := s.Use(ids[i%len(ids)]+fmt.Sprint(i/len(ids)), now.Add(time.Minute), now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
