package token

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	iss := newIssuer(t)
	lk := newLookup()
	v := &Verifier{Issuer: iss, Lookup: lk, Now: func() time.Time { return testNow }}
	in := sampleClaims()
	tok, err := iss.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"", testStageARN} {
		got, err := v.Verify(context.Background(), tok, stage)
		if err != nil {
			t.Fatalf("Verify(stage %q): %v", stage, err)
		}
		want := in
		want.KeyID = iss.CurrentKeyID()
		if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("times: got iat %v exp %v, want %v %v", got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt)
		}
		got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("claims:\n got %+v\nwant %+v", *got, want)
		}
	}
}

func TestIssueDefaults(t *testing.T) {
	iss := newIssuer(t)
	v := &Verifier{Issuer: iss}
	before := time.Now().Truncate(time.Second)
	tok, err := iss.Issue(Claims{ParticipantID: "p1", StageARN: testStageARN, Capabilities: Capabilities{Subscribe: true}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok, testStageARN)
	if err != nil {
		t.Fatal(err)
	}
	if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) {
		t.Errorf("IssuedAt %v is not now", c.IssuedAt)
	}
	if d := c.ExpiresAt.Sub(c.IssuedAt); d != DefaultLifetime {
		t.Errorf("lifetime %v, want %v", d, DefaultLifetime)
	}
	if c.Version != "0.0" || c.StageID != testStageID || c.Attributes != nil || c.Capabilities != (Capabilities{Subscribe: true}) {
		t.Errorf("defaults: %+v", c)
	}
}

// TestPayloadGolden checks the header and payload bytes against IVS's claim names, shapes and order.
func TestPayloadGolden(t *testing.T) {
	iss := newIssuer(t)
	segment := func(tok string, i int) []byte {
		t.Helper()
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("%d segments", len(parts))
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tok, err := iss.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := `{"alg":"ES384","kid":"` + iss.CurrentKeyID() + `","typ":"JWT"}`
	if got := string(segment(tok, 0)); got != wantHeader {
		t.Errorf("header\n got %s\nwant %s", got, wantHeader)
	}
	wantPayload := `{"exp":1772409600,"iat":1772366400,"jti":"a5XS7s83Higi",` +
		`"resource":"arn:aws:ivs:us-east-1:655758237974:stage/uAVDFdSTytHE","topic":"uAVDFdSTytHE",` +
		`"events_url":"wss://global.events.live-video.net","whip_url":"https://7453a0e95db4.global-bm.whip.live-video.net",` +
		`"user_id":"guest-1756707117","attributes":{"avatar":"https://example.com/a.png","displayName":"Guest"},` +
		`"capabilities":{"allow_publish":true,"allow_subscribe":true},"version":"0.0"}`
	if got := string(segment(tok, 1)); got != wantPayload {
		t.Errorf("payload\n got %s\nwant %s", got, wantPayload)
	}
	if sig := segment(tok, 2); len(sig) != 96 {
		t.Errorf("signature is %d bytes, want 96 (raw r||s)", len(sig))
	}

	// Shapes, member by member, and attributes omitted when empty.
	c := sampleClaims()
	c.Attributes = map[string]string{}
	c.UserID = ""
	c.Capabilities = Capabilities{Publish: true}
	tok, err = iss.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(segment(tok, 1), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"exp": 1772409600.0, "iat": 1772366400.0, "jti": "a5XS7s83Higi", "resource": testStageARN, "topic": testStageID,
		"events_url": eventsURL, "whip_url": whipURL, "user_id": "",
		"capabilities": map[string]any{"allow_publish": true, "allow_subscribe": false}, "version": "0.0",
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("payload\n got %v\nwant %v", m, want)
	}
}

// TestSelfSigned verifies a token made the way a customer's backend makes one: a P-384 key of its own, whose public
// half was imported (ImportPublicKey), signed with a JWT library, kid = the public key's ARN.
func TestSelfSigned(t *testing.T) {
	customer := newKey(t, elliptic.P384())
	lk := newLookup()
	lk.keys[testKeyARN] = &customer.PublicKey
	v := &Verifier{Issuer: newIssuer(t), Lookup: lk, Now: func() time.Time { return testNow }}

	jt := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"exp":          t0.Add(24 * time.Hour).Unix(),
		"iat":          t0.Unix(),
		"jti":          "customer_participant-42",
		"resource":     testStageARN,
		"topic":        testStageID,
		"events_url":   eventsURL,
		"whip_url":     whipURL,
		"user_id":      "alice",
		"attributes":   map[string]string{"room": "blue"},
		"capabilities": map[string]bool{"allow_publish": true, "allow_subscribe": true},
		"version":      "1.0",
		"iss":          "my-backend", // claims IVS does not use are ignored
	})
	jt.Header["kid"] = testKeyARN
	tok, err := jt.SignedString(customer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok, testStageARN)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		ParticipantID: "customer_participant-42", StageARN: testStageARN, StageID: testStageID,
		EventsURL: eventsURL, WHIPURL: whipURL, UserID: "alice", Attributes: map[string]string{"room": "blue"},
		Capabilities: Capabilities{Publish: true, Subscribe: true},
		IssuedAt:     t0, ExpiresAt: t0.Add(24 * time.Hour), Version: "1.0", KeyID: testKeyARN, SelfSigned: true,
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("claims:\n got %+v\nwant %+v", *got, want)
	}

	// Deleting the key invalidates its tokens.
	delete(lk.keys, testKeyARN)
	if _, err := v.Verify(context.Background(), tok, testStageARN); ReasonOf(err) != ReasonUnknownKey {
		t.Errorf("after the key was deleted: %v, want unknown_key", err)
	}
}

// TestAccepted checks the edges of each rule from the side that must pass, so that the rules are not too strict.
func TestAccepted(t *testing.T) {
	iss := newIssuer(t)
	kid := iss.CurrentKeyID()
	key := serverKey(t, iss, kid)
	customer := newKey(t, elliptic.P384())
	lk := newLookup()
	lk.keys[testKeyARN] = &customer.PublicKey
	v := &Verifier{Issuer: iss, Lookup: lk, Now: func() time.Time { return testNow }}
	unix := func(d time.Duration) int64 { return testNow.Add(d).Unix() }

	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"lifetime exactly 14 days", mint(t, key, kid, func(h, p map[string]any) { p["exp"] = t0.Add(MaxLifetime).Unix() })},
		{"expired within the leeway", mint(t, key, kid, func(h, p map[string]any) { p["exp"] = unix(-20 * time.Second) })},
		{"iat in the future within the leeway", mint(t, key, kid, func(h, p map[string]any) { p["iat"] = unix(20 * time.Second) })},
		{"nbf in the past", mint(t, key, kid, func(h, p map[string]any) { p["nbf"] = t0.Unix() })},
		{"nbf in the future within the leeway", mint(t, key, kid, func(h, p map[string]any) { p["nbf"] = unix(20 * time.Second) })},
		{"no iat, exp 13 days away", mint(t, key, kid, func(h, p map[string]any) { delete(p, "iat"); p["exp"] = unix(13 * 24 * time.Hour) })},
		{"fractional dates", mint(t, key, kid, func(h, p map[string]any) { p["iat"] = float64(t0.Unix()) + 0.5 })},
		{"jti of 64 characters with - and _", mint(t, key, kid, func(h, p map[string]any) { p["jti"] = strings.Repeat("a-_9", 16) })},
		{"user_id of 128 multibyte characters", mint(t, key, kid, func(h, p map[string]any) { p["user_id"] = strings.Repeat("é", 128) })},
		{"attributes of exactly 1 KB", mint(t, key, kid, func(h, p map[string]any) {
			p["attributes"] = map[string]any{"k": strings.Repeat("v", 1023)}
		})},
		{"no optional claims", mint(t, key, kid, func(h, p map[string]any) {
			for _, k := range []string{"events_url", "whip_url", "user_id", "attributes", "version"} {
				delete(p, k)
			}
		})},
		{"empty capabilities", mint(t, key, kid, func(h, p map[string]any) { p["capabilities"] = map[string]any{} })},
		{"no typ header", mint(t, key, kid, func(h, p map[string]any) { delete(h, "typ") })},
		{"self-signed", mint(t, customer, testKeyARN, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tc.tok, testStageARN); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLeewaySetting(t *testing.T) {
	iss := newIssuer(t)
	kid := iss.CurrentKeyID()
	tok := mint(t, serverKey(t, iss, kid), kid, func(h, p map[string]any) { p["exp"] = testNow.Add(-10 * time.Second).Unix() })
	for _, tc := range []struct {
		leeway time.Duration
		want   string
	}{{0, ""}, {-1, ReasonExpired}, {5 * time.Second, ReasonExpired}, {time.Minute, ""}} {
		v := &Verifier{Issuer: iss, Now: func() time.Time { return testNow }, Leeway: tc.leeway}
		_, err := v.Verify(context.Background(), tok, "")
		if got := ReasonOf(err); got != tc.want {
			t.Errorf("leeway %v: reason %q, want %q (%v)", tc.leeway, got, tc.want, err)
		}
	}
}

// TestIssueRefuses checks that Issue does not make tokens Verify would refuse.
func TestIssueRefuses(t *testing.T) {
	iss := newIssuer(t)
	for _, tc := range []struct {
		name string
		edit func(c *Claims)
		want string
	}{
		{"no participant id", func(c *Claims) { c.ParticipantID = "" }, ReasonClaims},
		{"bad participant id", func(c *Claims) { c.ParticipantID = "a.b" }, ReasonClaims},
		{"lifetime over 14 days", func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(MaxLifetime + time.Second) }, ReasonClaims},
		{"expires before issued", func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Hour) }, ReasonClaims},
		{"attributes over 1 KB", func(c *Claims) { c.Attributes = map[string]string{"k": strings.Repeat("v", 1024)} }, ReasonClaims},
		{"user id over 128 characters", func(c *Claims) { c.UserID = strings.Repeat("u", 129) }, ReasonClaims},
		{"not a stage", func(c *Claims) { c.StageARN = "arn:aws:ivs:us-east-1:655758237974:channel/abc"; c.StageID = "" }, ReasonWrongStage},
		{"topic not the stage id", func(c *Claims) { c.StageID = "other" }, ReasonWrongStage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleClaims()
			tc.edit(&c)
			tok, err := iss.Issue(c)
			if ReasonOf(err) != tc.want || tok != "" {
				t.Fatalf("Issue: %q, %v; want reason %q", tok, err, tc.want)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	iss := newIssuer(b)
	v := &Verifier{Issuer: iss, Lookup: newLookup(), Now: func() time.Time { return testNow }}
	tok, err := iss.Issue(sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, testStageARN); err != nil {
			b.Fatal(err)
		}
	}
}
