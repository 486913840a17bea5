package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParsePublicKeyPEM(t *testing.T) {
	k := fixedKey(t, "parse")
	pub, err := ParsePublicKeyPEM(pemOf(t, &k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&k.PublicKey) {
		t.Fatal("parsed key differs")
	}
	// The form openssl writes, with surrounding blank lines.
	if _, err := ParsePublicKeyPEM("\n" + pemOf(t, &k.PublicKey) + "\n\n"); err != nil {
		t.Fatal(err)
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, material := range map[string]string{
		"empty":      "",
		"not PEM":    "MHYwEAYHKoZIzj0CAQYFK4EEACID",
		"P-256":      pemOf(t, &p256.PublicKey),
		"RSA":        pemOf(t, &rsaKey.PublicKey),
		"two blocks": pemOf(t, &k.PublicKey) + pemOf(t, &k.PublicKey),
		"wrong type": strings.ReplaceAll(pemOf(t, &k.PublicKey), "PUBLIC KEY", "EC PUBLIC KEY"),
		"bad DER":    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	} {
		if _, err := ParsePublicKeyPEM(material); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyAcceptsEveryClaim(t *testing.T) {
	k := fixedKey(t, "one")
	exp := testNow.Add(9 * time.Minute)
	tok := sign(t, k, claims(map[string]any{
		"aws:access-control-allow-origin": "https://a.example.com,https://*.example.org",
		"aws:strict-origin-enforcement":   true,
		"aws:single-use-uuid":             "8f2bd7a4-4b0c-4f0a-9d62-2c4c1c3b1a7e",
		"aws:viewer-id":                   "viewer-42",
		"aws:viewer-session-version":      7,
		"aws:maximum-resolution":          "HD",
		"exp":                             exp.Unix(),
		"iat":                             testNow.Unix(), // unknown to IVS playback: ignored
	}), nil)
	c, err := VerifyViewerToken(tok, keysOf(k), testChannelARN, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		ChannelARN:           testChannelARN,
		AllowOrigin:          "https://a.example.com,https://*.example.org",
		StrictOrigin:         true,
		SingleUseUUID:        "8f2bd7a4-4b0c-4f0a-9d62-2c4c1c3b1a7e",
		ViewerID:             "viewer-42",
		ViewerSessionVersion: 7,
		MaxResolution:        ResolutionHD,
		Expires:              exp,
		KeyARN:               keyARN1,
	}
	if !c.Expires.Equal(want.Expires) {
		t.Fatalf("Expires %v, want %v", c.Expires, want.Expires)
	}
	c.Expires = want.Expires
	if *c != want {
		t.Fatalf("claims\n got %+v\nwant %+v", *c, want)
	}
}

func TestVerifyMinimalToken(t *testing.T) {
	k := fixedKey(t, "one")
	c, err := VerifyViewerToken(sign(t, k, claims(nil), nil), keysOf(k), testChannelARN, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.AllowOrigin != "" || c.StrictOrigin || c.SingleUseUUID != "" || c.ViewerID != "" || c.ViewerSessionVersion != 0 ||
		c.MaxResolution != "" || c.KeyARN != keyARN1 || !c.Expires.Equal(testNow.Add(5*time.Minute)) {
		t.Fatalf("claims %+v", c)
	}
}

// A token built by hand, with a raw r||s signature and the exact payload shape of IVS's documentation (version as a
// string), verifies.
func TestVerifyHandBuiltToken(t *testing.T) {
	k := fixedKey(t, "one")
	payload := `{"aws:channel-arn":"` + testChannelARN + `","aws:access-control-allow-origin":"*",` +
		`"aws:viewer-id":"v1","aws:viewer-session-version":"12","aws:maximum-resolution":"FULL_HD","exp":` +
		mustJSON(t, testNow.Add(10*time.Minute).Unix()) + `}`
	tok := handSign(t, k, `{"alg":"ES384","typ":"JWT"}`, payload)
	c, err := VerifyViewerToken(tok, keysOf(k), testChannelARN, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.ViewerSessionVersion != 12 || c.ViewerID != "v1" || c.MaxResolution != ResolutionFullHD || c.AllowOrigin != "*" {
		t.Fatalf("claims %+v", c)
	}
}

func TestViewerSessionVersionForms(t *testing.T) {
	k := fixedKey(t, "one")
	for _, tc := range []struct {
		v    any
		want int64
		ok   bool
	}{
		{int64(0), 0, true}, {int64(5), 5, true}, {"5", 5, true}, {"9223372036854775807", 1<<63 - 1, true},
		{int64(-1), -1, true}, {"-3", -3, true},
		{1.5, 0, false}, {"1.5", 0, false}, {"abc", 0, false}, {"", 0, false}, {"+5", 0, false}, {" 5", 0, false},
		{"9223372036854775808", 0, false}, {true, 0, false}, {[]int{1}, 0, false}, {1e300, 0, false},
	} {
		tok := sign(t, k, claims(map[string]any{"aws:viewer-session-version": tc.v}), nil)
		c, err := VerifyViewerToken(tok, keysOf(k), testChannelARN, testNow)
		if !tc.ok {
			wantRefusal(t, err, ReasonClaims)
			continue
		}
		if err != nil {
			t.Fatalf("%#v: %v", tc.v, err)
		}
		if c.ViewerSessionVersion != tc.want {
			t.Fatalf("%#v: version %d, want %d", tc.v, c.ViewerSessionVersion, tc.want)
		}
	}
	// An exponent in a JSON number is not an integer literal: refused, even when it is whole.
	tok := handSign(t, k, `{"alg":"ES384"}`, `{"aws:channel-arn":"`+testChannelARN+`","exp":`+
		mustJSON(t, testNow.Add(time.Minute).Unix())+`,"aws:viewer-session-version":1e3}`)
	_, err := VerifyViewerToken(tok, keysOf(k), testChannelARN, testNow)
	wantRefusal(t, err, ReasonClaims)
}

func TestVerifyTriesEveryKey(t *testing.T) {
	k1, k2, k3 := fixedKey(t, "one"), fixedKey(t, "two"), fixedKey(t, "three")
	keys := keysOf(k1, k2, k3)
	for i, k := range []*ecdsa.PrivateKey{k1, k2, k3} {
		c, err := VerifyViewerToken(sign(t, k, claims(nil), nil), keys, testChannelARN, testNow)
		if err != nil {
			t.Fatalf("key %d: %v", i+1, err)
		}
		if c.KeyARN != keys[i].ARN {
			t.Fatalf("key %d: KeyARN %s", i+1, c.KeyARN)
		}
	}
	// A kid naming a key of the list is tried first; a kid naming a key that did not sign does not stop the others.
	c, err := VerifyViewerToken(sign(t, k2, claims(nil), map[string]any{"kid": keyARN1}), keys, testChannelARN, testNow)
	if err != nil || c.KeyARN != keyARN2 {
		t.Fatalf("misleading kid: %v, %+v", err, c)
	}
	c, err = VerifyViewerToken(sign(t, k3, claims(nil), map[string]any{"kid": "unknown"}), keys, testChannelARN, testNow)
	if err != nil || c.KeyARN != keyARN3 {
		t.Fatalf("unknown kid: %v, %+v", err, c)
	}
	// Keys that are not P-384 (or nil) are skipped, not a crash.
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	odd := []Key{{ARN: "nil"}, {ARN: "p256", PublicKey: &p256.PublicKey}, keys[2]}
	if _, err := VerifyViewerToken(sign(t, k3, claims(nil), nil), odd, testChannelARN, testNow); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	k, other := fixedKey(t, "one"), fixedKey(t, "other")
	keys := keysOf(k)
	future := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	good := sign(t, k, claims(nil), nil)
	gh, gp, _ := strings.Cut(good, ".")
	gp, gs, _ := strings.Cut(gp, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	signWith := func(m jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(m, claims(nil)).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubPEM := pemOf(t, &k.PublicKey)

	for _, tc := range []struct {
		name, token, reason string
		keys                []Key
	}{
		{"empty", "", ReasonTokenMissing, keys},
		{"alg none", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), ReasonAlgorithm, keys},
		{"alg none with a signature", b64(`{"alg":"none"}`) + "." + gp + "." + gs, ReasonAlgorithm, keys},
		{"alg None", b64(`{"alg":"None","typ":"JWT"}`) + "." + gp + ".", ReasonAlgorithm, keys},
		{"no alg", b64(`{"typ":"JWT"}`) + "." + gp + "." + gs, ReasonAlgorithm, keys},
		{"alg es384 lower case", handSign(t, k, `{"alg":"es384"}`, mustJSON(t, claims(nil))), ReasonAlgorithm, keys},
		// HS256 keyed with the public key's PEM: the classic algorithm-confusion forgery.
		{"HS256 with the public key as secret", signWith(jwt.SigningMethodHS256, []byte(pubPEM)), ReasonAlgorithm, keys},
		{"ES256", signWith(jwt.SigningMethodES256, p256), ReasonAlgorithm, keys},
		{"RS256", signWith(jwt.SigningMethodRS256, rsaKey), ReasonAlgorithm, keys},
		{"PS384", signWith(jwt.SigningMethodPS384, rsaKey), ReasonAlgorithm, keys},
		{"wrong key", sign(t, other, claims(nil), nil), ReasonSignature, keys},
		// The key pair that signed was deleted: it is no longer among the account's keys.
		{"deleted key pair", sign(t, other, claims(nil), map[string]any{"kid": keyARN2}), ReasonSignature, keys},
		{"no key pairs", good, ReasonSignature, nil},
		{"altered payload", gh + "." + b64(mustJSON(t, claims(map[string]any{"aws:channel-arn": otherChannelARN}))) + "." + gs, ReasonSignature, keys},
		{"signature of another token", gh + "." + gp + "." + strings.SplitN(sign(t, k, claims(nil), nil), ".", 3)[2][:10] + gs[10:], ReasonSignature, keys},
		{"empty signature", gh + "." + gp + ".", ReasonSignature, keys},
		{"truncated signature", gh + "." + gp + "." + gs[:64], ReasonSignature, keys},
		{"wrong channel", sign(t, k, claims(map[string]any{"aws:channel-arn": otherChannelARN}), nil), ReasonChannel, keys},
		{"no channel", sign(t, k, claims(map[string]any{"aws:channel-arn": nil}), nil), ReasonChannel, keys},
		{"expired", sign(t, k, claims(map[string]any{"exp": future(-time.Second)}), nil), ReasonExpired, keys},
		{"expires now", sign(t, k, claims(map[string]any{"exp": future(0)}), nil), ReasonExpired, keys},
		{"exp missing", sign(t, k, claims(map[string]any{"exp": nil}), nil), ReasonClaims, keys},
		{"exp a word", sign(t, k, claims(map[string]any{"exp": "soon"}), nil), ReasonClaims, keys},
		{"exp null", handSign(t, k, `{"alg":"ES384"}`, `{"aws:channel-arn":"`+testChannelARN+`","exp":null}`), ReasonClaims, keys},
		{"exp negative", sign(t, k, claims(map[string]any{"exp": -5}), nil), ReasonClaims, keys},
		{"exp string", sign(t, k, claims(map[string]any{"exp": "1900000000"}), nil), ReasonClaims, keys},
		{"single-use 11 min", sign(t, k, claims(map[string]any{"aws:single-use-uuid": "u1", "exp": future(11 * time.Minute)}), nil), ReasonExpTooFar, keys},
		{"viewer-id 11 min", sign(t, k, claims(map[string]any{"aws:viewer-id": "v", "exp": future(11 * time.Minute)}), nil), ReasonExpTooFar, keys},
		{"viewer-id 1 day", sign(t, k, claims(map[string]any{"aws:viewer-id": "v", "exp": future(24 * time.Hour)}), nil), ReasonExpTooFar, keys},
		{"viewer-id too long", sign(t, k, claims(map[string]any{"aws:viewer-id": strings.Repeat("v", 41)}), nil), ReasonClaims, keys},
		{"single-use uuid too long", sign(t, k, claims(map[string]any{"aws:single-use-uuid": strings.Repeat("u", 129)}), nil), ReasonClaims, keys},
		{"bad resolution", sign(t, k, claims(map[string]any{"aws:maximum-resolution": "4K"}), nil), ReasonClaims, keys},
		{"channel not a string", sign(t, k, claims(map[string]any{"aws:channel-arn": 5}), nil), ReasonClaims, keys},
		{"strict not a boolean", sign(t, k, claims(map[string]any{"aws:strict-origin-enforcement": 1}), nil), ReasonClaims, keys},
		{"bad origin list", sign(t, k, claims(map[string]any{"aws:access-control-allow-origin": "example.com"}), nil), ReasonClaims, keys},
		{"strict with 6 origins", sign(t, k, claims(map[string]any{"aws:strict-origin-enforcement": true,
			"aws:access-control-allow-origin": "https://a.com,https://b.com,https://c.com,https://d.com,https://e.com,https://f.com"}), nil), ReasonClaims, keys},
		{"duplicate claim", handSign(t, k, `{"alg":"ES384"}`, `{"aws:channel-arn":"`+otherChannelARN+`","aws:channel-arn":"`+testChannelARN+`","exp":`+mustJSON(t, future(time.Minute))+`}`), ReasonTokenMalformed, keys},
		{"payload an array", handSign(t, k, `{"alg":"ES384"}`, `[1,2]`), ReasonTokenMalformed, keys},
		{"payload not JSON", gh + "." + b64(`{"aws:channel-arn":`) + "." + gs, ReasonTokenMalformed, keys},
		{"payload not base64", gh + ".*&^." + gs, ReasonTokenMalformed, keys},
		{"header not base64", "!!!." + gp + "." + gs, ReasonTokenMalformed, keys},
		{"header padded", gh + "=." + gp + "." + gs, ReasonTokenMalformed, keys},
		{"header not JSON", b64(`{"alg":"ES384"`) + "." + gp + "." + gs, ReasonTokenMalformed, keys},
		{"header JSON null", b64(`null`) + "." + gp + "." + gs, ReasonTokenMalformed, keys},
		{"signature not base64", gh + "." + gp + ".***", ReasonTokenMalformed, keys},
		{"two segments", gh + "." + gp, ReasonTokenMalformed, keys},
		{"four segments", good + ".x", ReasonTokenMalformed, keys},
		{"crit header", handSign(t, k, `{"alg":"ES384","crit":["exp"]}`, mustJSON(t, claims(nil))), ReasonTokenMalformed, keys},
		{"too long", good + strings.Repeat("A", MaxTokenBytes), ReasonTokenMalformed, keys},
		{"not a JWT", "hello", ReasonTokenMalformed, keys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := VerifyViewerToken(tc.token, tc.keys, testChannelARN, testNow)
			if c != nil {
				t.Fatalf("claims returned with a refusal: %+v", c)
			}
			r := wantRefusal(t, err, tc.reason)
			if tc.token != "" && len(tc.token) > 20 && strings.Contains(r.Error(), tc.token) {
				t.Fatal("the refusal quotes the token")
			}
		})
	}
}

// The 10-minute cap allows exactly 10 minutes, plus ShortLivedSkew; plain tokens have no cap.
func TestShortLivedCap(t *testing.T) {
	k := fixedKey(t, "one")
	keys := keysOf(k)
	for _, tc := range []struct {
		extra map[string]any
		d     time.Duration
		ok    bool
	}{
		{map[string]any{"aws:single-use-uuid": "u"}, 10 * time.Minute, true},
		{map[string]any{"aws:single-use-uuid": "u"}, 10*time.Minute + ShortLivedSkew, true},
		{map[string]any{"aws:single-use-uuid": "u"}, 10*time.Minute + ShortLivedSkew + time.Second, false},
		{map[string]any{"aws:viewer-id": "v"}, 10*time.Minute + 20*time.Second, true},
		{map[string]any{"aws:viewer-id": "v"}, 12 * time.Minute, false},
		{nil, 30 * 24 * time.Hour, true},
	} {
		tc.extra = mapWith(tc.extra, "exp", testNow.Add(tc.d).Unix())
		_, err := VerifyViewerToken(sign(t, k, claims(tc.extra), nil), keys, testChannelARN, testNow)
		if tc.ok && err != nil {
			t.Errorf("%v %v: %v", tc.extra, tc.d, err)
		}
		if !tc.ok {
			wantRefusal(t, err, ReasonExpTooFar)
		}
	}
}

func mapWith(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for kk, vv := range m {
		out[kk] = vv
	}
	return out
}

func TestStringBooleans(t *testing.T) {
	k := fixedKey(t, "one")
	for v, want := range map[any]bool{"true": true, "false": false, true: true, false: false} {
		c, err := VerifyViewerToken(sign(t, k, claims(map[string]any{"aws:strict-origin-enforcement": v}), nil), keysOf(k), testChannelARN, testNow)
		if err != nil || c.StrictOrigin != want {
			t.Fatalf("%#v: %v %+v", v, err, c)
		}
	}
	c, err := VerifyViewerToken(sign(t, k, claims(map[string]any{"aws:maximum-resolution": "sd"}), nil), keysOf(k), testChannelARN, testNow)
	if err != nil || c.MaxResolution != ResolutionSD {
		t.Fatalf("lower-case resolution: %v %+v", err, c)
	}
}

func TestClaimsCheckRevoked(t *testing.T) {
	revoked := func(channelARN, viewerID string) (int64, bool) {
		if channelARN == testChannelARN && viewerID == "v1" {
			return 3, true
		}
		return 0, false
	}
	for _, tc := range []struct {
		c  Claims
		ok bool
	}{
		{Claims{ChannelARN: testChannelARN, ViewerID: "v1", ViewerSessionVersion: 3}, false},
		{Claims{ChannelARN: testChannelARN, ViewerID: "v1", ViewerSessionVersion: 0}, false},
		{Claims{ChannelARN: testChannelARN, ViewerID: "v1", ViewerSessionVersion: 4}, true},
		{Claims{ChannelARN: testChannelARN, ViewerID: "v2"}, true},
		{Claims{ChannelARN: otherChannelARN, ViewerID: "v1"}, true},
		{Claims{ChannelARN: testChannelARN}, true},
	} {
		err := tc.c.CheckRevoked(revoked)
		if tc.ok && err != nil {
			t.Errorf("%+v: %v", tc.c, err)
		}
		if !tc.ok {
			wantRefusal(t, err, ReasonRevoked)
		}
	}
	if err := (&Claims{ViewerID: "v1"}).CheckRevoked(nil); err != nil {
		t.Fatal(err)
	}
}
