package token

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzVerify")

// The fuzz test's keys are derived from labels, so that the seed tokens stay valid and every fuzzing worker process
// has the same keys; its clock is fixed, so that they never expire.
var (
	fuzzIssued = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fuzzNow    = fuzzIssued.Add(10 * time.Minute)
)

const (
	fuzzServerKeyLabel   = "openivs participant-token fuzz server key"
	fuzzCustomerKeyLabel = "openivs participant-token fuzz customer key"
	fuzzKeyARN           = "arn:aws:ivs:us-east-1:123456789012:public-key/fuzzSeedKey1"
	fuzzStageARN         = "arn:aws:ivs:us-east-1:123456789012:stage/fuzzStage123"
	fuzzSeedDir          = "testdata/fuzz/FuzzVerify"
)

func fuzzVerifier(t testing.TB) *Verifier {
	t.Helper()
	dir := t.TempDir()
	writeServerKey(t, dir, fixedKey(t, fuzzServerKeyLabel))
	iss, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	lk := newLookup()
	lk.keys[fuzzKeyARN] = &fixedKey(t, fuzzCustomerKeyLabel).PublicKey
	return &Verifier{Issuer: iss, Lookup: lk, Now: func() time.Time { return fuzzNow }}
}

// readSeeds reads the seed corpus: file name → token.
func readSeeds(t testing.TB) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(fuzzSeedDir)
	if err != nil {
		t.Fatal(err)
	}
	seeds := make(map[string]string)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fuzzSeedDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") {
			t.Fatalf("seed %s is not a one-string corpus file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("seed %s: %v", e.Name(), err)
		}
		seeds[e.Name()] = s
	}
	return seeds
}

var knownReasons = map[string]bool{
	ReasonMalformed: true, ReasonAlgorithm: true, ReasonSignature: true, ReasonExpired: true, ReasonNotYetValid: true,
	ReasonWrongStage: true, ReasonWrongAccount: true, ReasonUnknownKey: true, ReasonDisconnected: true,
	ReasonClaims: true, ReasonInternal: true,
}

// FuzzVerify checks that Verify never panics, always answers with a known Reason, and accepts nothing but the tokens
// this test issued (the seeds named valid-*).
func FuzzVerify(f *testing.F) {
	v := fuzzVerifier(f)
	seeds := readSeeds(f)
	issued := make(map[string]bool)
	for name, tok := range seeds {
		_, err := v.Verify(context.Background(), tok, fuzzStageARN)
		if strings.HasPrefix(name, "valid-") {
			issued[tok] = true
			if err != nil {
				f.Fatalf("seed %s does not verify: %v", name, err)
			}
		} else if err == nil {
			f.Fatalf("seed %s verifies", name)
		}
	}
	if len(issued) < 2 {
		f.Fatalf("%d valid seeds, want a server token and a self-signed one", len(issued))
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, stage := range []string{"", fuzzStageARN} {
			c, err := v.Verify(context.Background(), tok, stage)
			if err == nil {
				if !issued[tok] {
					t.Fatalf("Verify accepted a token the test did not issue: %q", tok)
				}
				if c == nil || c.StageARN != fuzzStageARN {
					t.Fatalf("accepted with claims %+v", c)
				}
				continue
			}
			if c != nil {
				t.Fatalf("claims %+v with error %v", c, err)
			}
			if r := ReasonOf(err); !knownReasons[r] {
				t.Fatalf("error %v has reason %q", err, r)
			}
		}
	})
}

// TestWriteFuzzSeeds rewrites the seed corpus (go test -run TestWriteFuzzSeeds -update-fuzz-seeds).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateFuzzSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite " + fuzzSeedDir)
	}
	v := fuzzVerifier(t)
	server, err := v.Issuer.Issue(Claims{
		ParticipantID: "fuzzParticipant1", StageARN: fuzzStageARN, EventsURL: eventsURL, WHIPURL: whipURL,
		UserID: "fuzz", Attributes: map[string]string{"k": "v"}, Capabilities: Capabilities{Publish: true, Subscribe: true},
		IssuedAt: fuzzIssued, ExpiresAt: fuzzIssued.Add(12 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	jt := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"exp": fuzzIssued.Add(time.Hour).Unix(), "iat": fuzzIssued.Unix(), "jti": "self-signed_1",
		"resource": fuzzStageARN, "topic": "fuzzStage123", "events_url": eventsURL, "whip_url": whipURL,
		"user_id": "alice", "capabilities": map[string]bool{"allow_publish": false, "allow_subscribe": true}, "version": "1.0",
	})
	jt.Header["kid"] = fuzzKeyARN
	selfSigned, err := jt.SignedString(fixedKey(t, fuzzCustomerKeyLabel))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(server, ".")
	kid := v.Issuer.CurrentKeyID()

	pubDER, err := x509.MarshalPKIXPublicKey(&fixedKey(t, fuzzServerKeyLabel).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims(basePayload()))
	hs.Header["kid"] = kid
	hmacAttack, err := hs.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err != nil {
		t.Fatal(err)
	}

	seeds := map[string]string{
		"valid-server":      server,
		"valid-self-signed": selfSigned,
		"truncated":         server[:len(server)-7],
		"alg-none":          b64([]byte(`{"alg":"none","kid":"`+kid+`","typ":"JWT"}`)) + "." + parts[1] + ".",
		"bad-base64":        parts[0][:10] + "!*" + parts[0][12:] + "." + parts[1] + "." + parts[2],
		"huge":              parts[0] + "." + strings.Repeat("eyJhIjoiYiJ9", 1500) + "." + parts[2],
		"hs384-public-key":  hmacAttack,
	}
	writeSeeds(t, fuzzSeedDir, "string", seeds)

	payload := func(edit func(p map[string]any)) string {
		p := basePayload()
		p["resource"], p["topic"] = fuzzStageARN, "fuzzStage123"
		p["iat"], p["exp"] = fuzzIssued.Unix(), fuzzIssued.Add(time.Hour).Unix()
		if edit != nil {
			edit(p)
		}
		return string(mustJSON(t, p))
	}
	writeSeeds(t, "testdata/fuzz/FuzzClaims", "[]byte", map[string]string{
		"valid":          payload(nil),
		"fractional-iat": payload(func(p map[string]any) { p["iat"] = float64(fuzzIssued.Unix()) + 0.25 }),
		"no-optional":    payload(func(p map[string]any) { delete(p, "attributes"); delete(p, "user_id"); delete(p, "version") }),
		"ivs-shape": `{"exp":1767229200,"iat":1767225600,"jti":"a5XS7s83Higi","resource":"` + fuzzStageARN +
			`","topic":"fuzzStage123","events_url":"wss://global.events.live-video.net","whip_url":"https://7453a0e95db4.global-bm.whip.live-video.net",` +
			`"user_id":"guest-1756707117","capabilities":{"allow_publish":true,"allow_subscribe":true},"version":"0.0"}`,
		"not-an-object": `[{"jti":"x"}]`,
	})
}

func writeSeeds(t *testing.T, dir, typ string, seeds map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n%s(%q)\n", typ, s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzClaims reaches what FuzzVerify cannot get past the signature to: it checks each input as the payload of a
// server token whose signature verified, then checks that whatever is accepted keeps every bound, and survives a round
// trip through Issue and Verify.
func FuzzClaims(f *testing.F) {
	v := fuzzVerifier(f)
	kid := v.Issuer.CurrentKeyID()
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := v.claims(context.Background(), payload, kid, false, "", "")
		if err != nil {
			if c != nil || !knownReasons[ReasonOf(err)] {
				t.Fatalf("claims %+v, error %v", c, err)
			}
			return
		}
		_, id, ok := stageOf(c.StageARN)
		size := 0
		for k, v := range c.Attributes {
			size += len(k) + len(v)
		}
		switch {
		case !ok || id != c.StageID:
			t.Fatalf("accepted resource %q topic %q", c.StageARN, c.StageID)
		case !jtiPattern.MatchString(c.ParticipantID):
			t.Fatalf("accepted jti %q", c.ParticipantID)
		case size > MaxAttributesBytes || len([]rune(c.UserID)) > MaxUserIDChars:
			t.Fatalf("accepted attributes of %d bytes, user_id %q", size, c.UserID)
		case !fuzzNow.Before(c.ExpiresAt.Add(DefaultLeeway)):
			t.Fatalf("accepted an expired token: %v", c.ExpiresAt)
		case !c.IssuedAt.IsZero() && c.ExpiresAt.Sub(c.IssuedAt) > MaxLifetime:
			t.Fatalf("accepted a lifetime of %v", c.ExpiresAt.Sub(c.IssuedAt))
		case c.KeyID != kid || c.SelfSigned:
			t.Fatalf("key %q, self-signed %v", c.KeyID, c.SelfSigned)
		}
		if c.IssuedAt.IsZero() || c.IssuedAt.Nanosecond() != 0 || c.ExpiresAt.Nanosecond() != 0 {
			return
		}
		tok, err := v.Issuer.Issue(*c)
		if err != nil {
			t.Fatalf("Issue refused claims Verify accepted: %v (%+v)", err, c)
		}
		again, err := v.Verify(context.Background(), tok, c.StageARN)
		if err != nil {
			t.Fatalf("reissued token refused: %v", err)
		}
		if c.Version == "" {
			c.Version = DefaultVersion
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, c)
		}
	})
}
