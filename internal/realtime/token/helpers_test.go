package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testAccount  = "655758237974"
	testStageID  = "uAVDFdSTytHE"
	testStageARN = "arn:aws:ivs:us-east-1:" + testAccount + ":stage/" + testStageID
	testKeyARN   = "arn:aws:ivs:us-east-1:" + testAccount + ":public-key/abcdABC1efg2"
	// otherKeyARN is a key of another account.
	otherKeyARN = "arn:aws:ivs:us-east-1:111122223333:public-key/f99cde61-c2b0-4df3-8941-ca7d38acca1a"
	eventsURL   = "wss://global.events.live-video.net"
	whipURL     = "https://7453a0e95db4.global-bm.whip.live-video.net"
)

// t0 is when test tokens are issued; testNow is when they are verified.
var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testNow = t0.Add(time.Minute)
)

// fakeLookup is an in-memory Lookup.
type fakeLookup struct {
	mu           sync.Mutex
	keys         map[string]*ecdsa.PublicKey
	disconnected map[string]bool // stageARN + " " + participantID
	keyErr       error
	discErr      error
	keyCalls     int
}

func newLookup() *fakeLookup {
	return &fakeLookup{keys: map[string]*ecdsa.PublicKey{}, disconnected: map[string]bool{}}
}

func (l *fakeLookup) PublicKey(_ context.Context, arn string) (*ecdsa.PublicKey, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keyCalls++
	if l.keyErr != nil {
		return nil, l.keyErr
	}
	k, ok := l.keys[arn]
	if !ok {
		return nil, ErrUnknownKey
	}
	return k, nil
}

func (l *fakeLookup) Disconnected(_ context.Context, stageARN, participantID string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.discErr != nil {
		return false, l.discErr
	}
	return l.disconnected[stageARN+" "+participantID], nil
}

func newIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss, err := OpenIssuer(filepath.Join(t.TempDir(), "keys", "participant-tokens"))
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// serverKey returns the private key of a server key id.
func serverKey(t testing.TB, iss *Issuer, kid string) *ecdsa.PrivateKey {
	t.Helper()
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	k, ok := iss.keys[kid]
	if !ok {
		t.Fatalf("no server key %q", kid)
	}
	return k
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedKey derives a P-384 key from a label, so that every process of a test (fuzz workers included) has the same one.
func fixedKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	sum := sha512.Sum384([]byte(label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeServerKey puts a key in an issuer directory the way an operator would, and returns its id.
func writeServerKey(t testing.TB, dir string, key *ecdsa.PrivateKey) string {
	t.Helper()
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, kid+".pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return kid
}

func sampleClaims() Claims {
	return Claims{
		ParticipantID: "a5XS7s83Higi",
		StageARN:      testStageARN,
		StageID:       testStageID,
		EventsURL:     eventsURL,
		WHIPURL:       whipURL,
		UserID:        "guest-1756707117",
		Attributes:    map[string]string{"displayName": "Guest", "avatar": "https://example.com/a.png"},
		Capabilities:  Capabilities{Publish: true, Subscribe: true},
		IssuedAt:      t0,
		ExpiresAt:     t0.Add(12 * time.Hour),
		Version:       "0.0",
	}
}

// basePayload is a valid payload as a map, for tests to edit.
func basePayload() map[string]any {
	return map[string]any{
		"exp":          t0.Add(12 * time.Hour).Unix(),
		"iat":          t0.Unix(),
		"jti":          "p-1_abc",
		"resource":     testStageARN,
		"topic":        testStageID,
		"events_url":   eventsURL,
		"whip_url":     whipURL,
		"user_id":      "user-1",
		"attributes":   map[string]any{"a": "b"},
		"capabilities": map[string]any{"allow_publish": true, "allow_subscribe": false},
		"version":      "1.0",
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signRaw makes an ES384 JWS of exactly these header and payload bytes.
func signRaw(t testing.TB, key *ecdsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	signing := b64(header) + "." + b64(payload)
	sig, err := jwt.SigningMethodES384.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// mint makes an ES384 token with kid, after edit has changed the base header and payload.
func mint(t testing.TB, key *ecdsa.PrivateKey, kid string, edit func(h, p map[string]any)) string {
	t.Helper()
	h := map[string]any{"alg": "ES384", "typ": "JWT", "kid": kid}
	p := basePayload()
	if edit != nil {
		edit(h, p)
	}
	return signRaw(t, key, mustJSON(t, h), mustJSON(t, p))
}
