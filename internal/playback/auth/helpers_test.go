package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testChannelARN  = "arn:aws:ivs:us-west-2:123456789012:channel/AbCdEfGhIjKl"
	otherChannelARN = "arn:aws:ivs:us-west-2:123456789012:channel/ZyXwVuTsRqPo"
	keyARN1         = "arn:aws:ivs:us-west-2:123456789012:playback-key/aaaaaaaaaaaa"
	keyARN2         = "arn:aws:ivs:us-west-2:123456789012:playback-key/bbbbbbbbbbbb"
	keyARN3         = "arn:aws:ivs:us-west-2:123456789012:playback-key/cccccccccccc"
)

// testNow is when test tokens are verified.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedKey derives a P-384 key from a label, so that every process of a test (fuzz workers included) has the same
// one and seed tokens stay valid.
func fixedKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	sum := sha512.Sum384([]byte("openivs playback auth test " + label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// keysOf returns the playback keys of private keys, with ARNs keyARN1, keyARN2, keyARN3 in order.
func keysOf(privs ...*ecdsa.PrivateKey) []Key {
	arns := []string{keyARN1, keyARN2, keyARN3}
	var ks []Key
	for i, p := range privs {
		ks = append(ks, Key{ARN: arns[i], PublicKey: &p.PublicKey})
	}
	return ks
}

// claims returns a base payload for testChannelARN expiring 5 minutes after testNow, with extra set (nil deletes).
func claims(extra map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"aws:channel-arn": testChannelARN,
		"exp":             testNow.Add(5 * time.Minute).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign signs claims with jwt's ES384 and the given key, with optional extra header members.
func sign(t testing.TB, key *ecdsa.PrivateKey, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handSign builds a compact JWS by hand: base64url of the exact header and payload bytes given, and an ES384
// signature as raw r||s (48 bytes each), the way the jsonwebtoken library IVS documents produces it.
func handSign(t testing.TB, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	signed := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sum := sha512.Sum384([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRefusal fails unless err is a *Refusal with reason (and the status that reason implies).
func wantRefusal(t testing.TB, err error, reason string) *Refusal {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want refusal %q", reason)
	}
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T) is not a *Refusal", err, err)
	}
	if r.Reason != reason {
		t.Fatalf("refused with %q (%s); want %q", r.Reason, r.Message, reason)
	}
	if r.Status != StatusOf(reason) {
		t.Fatalf("status %d; want %d", r.Status, StatusOf(reason))
	}
	return r
}
