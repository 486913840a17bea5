package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestRefused has one row per rule of Verify: each row is a token that the rule alone refuses.
func TestRefused(t *testing.T) {
	iss := newIssuer(t)
	retiredKid := iss.CurrentKeyID()
	retiredKey := serverKey(t, iss, retiredKid)
	kid, err := iss.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Retire(retiredKid); err != nil {
		t.Fatal(err)
	}
	key := serverKey(t, iss, kid)

	customer := newKey(t, elliptic.P384())
	p256 := newKey(t, elliptic.P256())
	p521 := newKey(t, elliptic.P521())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256KeyARN := "arn:aws:ivs:us-east-1:" + testAccount + ":public-key/p256KEY"
	newLookupFor := func() *fakeLookup {
		lk := newLookup()
		lk.keys[testKeyARN] = &customer.PublicKey
		lk.keys[otherKeyARN] = &customer.PublicKey
		lk.keys[p256KeyARN] = &p256.PublicKey
		return lk
	}

	// The server's public key as PEM: what an attacker who HMAC-signs with the public key uses as the secret.
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	// withLib signs the base payload with jwt and any method, kid = the current server key.
	withLib := func(m jwt.SigningMethod, k any) string {
		jt := jwt.NewWithClaims(m, jwt.MapClaims(basePayload()))
		jt.Header["kid"] = kid
		s, err := jt.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// withAlg makes a token whose header names alg, signed with ES384 anyway (or with junk).
	withAlg := func(alg any) string {
		return mint(t, key, kid, func(h, p map[string]any) { h["alg"] = alg })
	}
	raw := func(header, payload string) string { return signRaw(t, key, []byte(header), []byte(payload)) }
	valid := mint(t, key, kid, nil)
	parts := strings.Split(valid, ".")
	ivsKMS := func() string { // the shape of a real IVS-issued token: alg KMS, DER signature
		h := mustJSON(t, map[string]any{"alg": "KMS", "typ": "JWT"})
		p := mustJSON(t, basePayload())
		digest := sha512.Sum384([]byte(b64(h) + "." + b64(p)))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		return b64(h) + "." + b64(p) + "." + b64(der)
	}
	derSigned := func() string {
		h, p := parts[0], parts[1]
		digest := sha512.Sum384([]byte(h + "." + p))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		return h + "." + p + "." + b64(der)
	}
	edit := func(f func(p map[string]any)) string {
		return mint(t, key, kid, func(_, p map[string]any) { f(p) })
	}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }

	for _, tc := range []struct {
		name   string
		tok    string
		stage  string
		lookup func(*fakeLookup)
		want   string
	}{
		// Size and structure.
		{name: "longer than 16 KB", tok: edit(func(p map[string]any) { p["pad"] = strings.Repeat("x", 3*MaxTokenBytes/4) }), want: ReasonMalformed},
		{name: "longer than 16 KB by a byte", tok: valid + strings.Repeat("A", MaxTokenBytes-len(valid)+1), want: ReasonMalformed},
		{name: "empty", tok: "", want: ReasonMalformed},
		{name: "two segments", tok: parts[0] + "." + parts[1], want: ReasonMalformed},
		{name: "four segments", tok: valid + ".e30", want: ReasonMalformed},
		{name: "header not base64url", tok: "*" + valid[1:], want: ReasonMalformed},
		{name: "header padded", tok: parts[0] + "=." + parts[1] + "." + parts[2], want: ReasonMalformed},
		{name: "header not JSON", tok: b64([]byte("{alg:ES384")) + "." + parts[1] + "." + parts[2], want: ReasonMalformed},
		{name: "header a JSON array", tok: b64([]byte(`["ES384"]`)) + "." + parts[1] + "." + parts[2], want: ReasonMalformed},
		{name: "no kid", tok: mint(t, key, kid, func(h, p map[string]any) { delete(h, "kid") }), want: ReasonMalformed},
		{name: "empty kid", tok: mint(t, key, "", nil), want: ReasonMalformed},
		{name: "kid not a string", tok: mint(t, key, kid, func(h, p map[string]any) { h["kid"] = 7 }), want: ReasonMalformed},
		{name: "crit header", tok: mint(t, key, kid, func(h, p map[string]any) { h["crit"] = []string{"b64"}; h["b64"] = false }), want: ReasonMalformed},
		{name: "payload not base64url", tok: parts[0] + ".%%%." + parts[2], want: ReasonMalformed},
		{name: "payload not JSON", tok: raw(`{"alg":"ES384","kid":"`+kid+`"}`, `{"exp":`), want: ReasonMalformed},
		{name: "payload a JSON array", tok: raw(`{"alg":"ES384","kid":"`+kid+`"}`, `[1]`), want: ReasonMalformed},
		{name: "payload null", tok: raw(`{"alg":"ES384","kid":"`+kid+`"}`, `null`), want: ReasonMalformed},
		{name: "payload with a duplicate claim", tok: raw(`{"alg":"ES384","kid":"`+kid+`"}`,
			strings.Replace(string(mustJSON(t, basePayload())), `{`, `{"jti":"someone-else",`, 1)), want: ReasonMalformed},
		{name: "signature not base64url", tok: parts[0] + "." + parts[1] + ".+/+/", want: ReasonMalformed},
		{name: "payload base64url with stray bits", tok: strayBits(t, key, kid), want: ReasonMalformed},

		// Algorithms: refused before any key look-up or signature check.
		{name: "alg none", tok: withLib(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), want: ReasonAlgorithm},
		{name: "alg none, self-signed kid", tok: mint(t, key, testKeyARN, func(h, p map[string]any) { h["alg"] = "none" }), want: ReasonAlgorithm},
		{name: "HS256 with the public key as the secret", tok: withLib(jwt.SigningMethodHS256, pubPEM), want: ReasonAlgorithm},
		{name: "HS384 with the public key as the secret", tok: withLib(jwt.SigningMethodHS384, pubPEM), want: ReasonAlgorithm},
		{name: "HS384 with the public key DER as the secret", tok: withLib(jwt.SigningMethodHS384, pubDER), want: ReasonAlgorithm},
		{name: "RS256", tok: withLib(jwt.SigningMethodRS256, rsaKey), want: ReasonAlgorithm},
		{name: "PS384", tok: withLib(jwt.SigningMethodPS384, rsaKey), want: ReasonAlgorithm},
		{name: "ES256", tok: withLib(jwt.SigningMethodES256, p256), want: ReasonAlgorithm},
		{name: "ES512", tok: withLib(jwt.SigningMethodES512, p521), want: ReasonAlgorithm},
		{name: "EdDSA", tok: withLib(jwt.SigningMethodEdDSA, edKey), want: ReasonAlgorithm},
		{name: "KMS (a real IVS-issued token's alg)", tok: ivsKMS(), want: ReasonAlgorithm},
		{name: "alg es384 lowercase", tok: withAlg("es384"), want: ReasonAlgorithm},
		{name: "alg missing", tok: mint(t, key, kid, func(h, p map[string]any) { delete(h, "alg") }), want: ReasonAlgorithm},
		{name: "alg not a string", tok: withAlg(384), want: ReasonAlgorithm},
		{name: "alg none and no kid", tok: mint(t, key, kid, func(h, p map[string]any) { h["alg"] = "none"; delete(h, "kid") }), want: ReasonAlgorithm},
		{name: "alg ES512 with a junk signature", tok: strings.Replace(valid, parts[0], b64(mustJSON(t, map[string]any{"alg": "ES512", "kid": kid})), 1), want: ReasonAlgorithm},

		// Keys.
		{name: "unknown server key", tok: mint(t, key, "NoSuchKey", nil), want: ReasonUnknownKey},
		{name: "retired server key", tok: mint(t, retiredKey, retiredKid, nil), want: ReasonUnknownKey},
		{name: "unknown public key", tok: mint(t, customer, "arn:aws:ivs:us-east-1:"+testAccount+":public-key/gone", nil), want: ReasonUnknownKey},
		{name: "kid an ARN of another type", tok: mint(t, customer, "arn:aws:ivs:us-east-1:"+testAccount+":playback-key/abc", nil), want: ReasonUnknownKey},
		{name: "kid a malformed ARN", tok: mint(t, customer, "arn:aws:ivs:us-east-1:public-key/abc", nil), want: ReasonUnknownKey},
		{name: "imported key not P-384", tok: mint(t, customer, p256KeyARN, nil), want: ReasonUnknownKey},
		{name: "no lookup for a self-signed token", tok: mint(t, customer, testKeyARN, nil), lookup: nil, want: ReasonUnknownKey},

		// Signature.
		{name: "payload changed after signing", tok: parts[0] + "." + b64(mustJSON(t, map[string]any{"jti": "x"})) + "." + parts[2], want: ReasonSignature},
		{name: "header changed after signing", tok: b64(mustJSON(t, map[string]any{"alg": "ES384", "kid": kid, "typ": "jwt"})) + "." + parts[1] + "." + parts[2], want: ReasonSignature},
		{name: "signed by another key, server kid", tok: mint(t, newKey(t, elliptic.P384()), kid, nil), want: ReasonSignature},
		{name: "signed by another key, self-signed kid", tok: mint(t, newKey(t, elliptic.P384()), testKeyARN, nil), want: ReasonSignature},
		{name: "signed by the retired key, current kid", tok: mint(t, retiredKey, kid, nil), want: ReasonSignature},
		{name: "DER signature", tok: derSigned(), want: ReasonSignature},
		{name: "empty signature", tok: parts[0] + "." + parts[1] + ".", want: ReasonSignature},
		{name: "zero signature", tok: parts[0] + "." + parts[1] + "." + b64(make([]byte, 96)), want: ReasonSignature},
		{name: "signature of another token", tok: parts[0] + "." + parts[1] + "." + strings.Split(mint(t, key, kid, func(h, p map[string]any) { p["jti"] = "x" }), ".")[2], want: ReasonSignature},

		// Time.
		{name: "expired", tok: edit(func(p map[string]any) { p["exp"] = at(-time.Hour) }), want: ReasonExpired},
		{name: "expired beyond the leeway", tok: edit(func(p map[string]any) { p["exp"] = at(-DefaultLeeway - time.Second) }), want: ReasonExpired},
		{name: "nbf in the future", tok: edit(func(p map[string]any) { p["nbf"] = at(time.Hour) }), want: ReasonNotYetValid},
		{name: "iat in the future", tok: edit(func(p map[string]any) { p["iat"] = at(time.Hour); p["exp"] = at(2 * time.Hour) }), want: ReasonNotYetValid},
		{name: "no exp", tok: edit(func(p map[string]any) { delete(p, "exp") }), want: ReasonClaims},
		{name: "exp null", tok: edit(func(p map[string]any) { p["exp"] = nil }), want: ReasonClaims},
		{name: "exp a string", tok: edit(func(p map[string]any) { p["exp"] = "1772409600" }), want: ReasonClaims},
		{name: "exp huge", tok: raw(`{"alg":"ES384","kid":"`+kid+`"}`, strings.Replace(string(mustJSON(t, basePayload())), `"exp":1772409600`, `"exp":1e400`, 1)), want: ReasonClaims},
		{name: "exp negative", tok: edit(func(p map[string]any) { p["exp"] = -1 }), want: ReasonClaims},
		{name: "iat a boolean", tok: edit(func(p map[string]any) { p["iat"] = true }), want: ReasonClaims},
		{name: "nbf a string", tok: edit(func(p map[string]any) { p["nbf"] = "now" }), want: ReasonClaims},
		{name: "lifetime over 14 days", tok: edit(func(p map[string]any) { p["exp"] = t0.Add(MaxLifetime + time.Second).Unix() }), want: ReasonClaims},
		{name: "exp before iat", tok: edit(func(p map[string]any) { p["iat"] = at(0); p["exp"] = at(-1 * time.Second) }), want: ReasonClaims},
		{name: "no iat, exp over 14 days away", tok: edit(func(p map[string]any) { delete(p, "iat"); p["exp"] = at(MaxLifetime + time.Hour) }), want: ReasonClaims},

		// Claims.
		{name: "no jti", tok: edit(func(p map[string]any) { delete(p, "jti") }), want: ReasonClaims},
		{name: "jti empty", tok: edit(func(p map[string]any) { p["jti"] = "" }), want: ReasonClaims},
		{name: "jti of 65 characters", tok: edit(func(p map[string]any) { p["jti"] = strings.Repeat("a", 65) }), want: ReasonClaims},
		{name: "jti with a dot", tok: edit(func(p map[string]any) { p["jti"] = "a.b" }), want: ReasonClaims},
		{name: "jti with a slash", tok: edit(func(p map[string]any) { p["jti"] = "../a" }), want: ReasonClaims},
		{name: "jti not ASCII", tok: edit(func(p map[string]any) { p["jti"] = "é" }), want: ReasonClaims},
		{name: "jti a number", tok: edit(func(p map[string]any) { p["jti"] = 12 }), want: ReasonClaims},
		{name: "no capabilities", tok: edit(func(p map[string]any) { delete(p, "capabilities") }), want: ReasonClaims},
		{name: "capabilities null", tok: edit(func(p map[string]any) { p["capabilities"] = nil }), want: ReasonClaims},
		{name: "capabilities a list", tok: edit(func(p map[string]any) { p["capabilities"] = []string{"PUBLISH"} }), want: ReasonClaims},
		{name: "allow_publish a string", tok: edit(func(p map[string]any) { p["capabilities"] = map[string]any{"allow_publish": "true"} }), want: ReasonClaims},
		{name: "allow_subscribe a number", tok: edit(func(p map[string]any) { p["capabilities"] = map[string]any{"allow_subscribe": 1} }), want: ReasonClaims},
		{name: "attributes a list", tok: edit(func(p map[string]any) { p["attributes"] = []string{"a"} }), want: ReasonClaims},
		{name: "attributes a string", tok: edit(func(p map[string]any) { p["attributes"] = "a=b" }), want: ReasonClaims},
		{name: "attribute value a number", tok: edit(func(p map[string]any) { p["attributes"] = map[string]any{"a": 1} }), want: ReasonClaims},
		{name: "attribute value an object", tok: edit(func(p map[string]any) { p["attributes"] = map[string]any{"a": map[string]any{}} }), want: ReasonClaims},
		{name: "attributes over 1 KB", tok: edit(func(p map[string]any) { p["attributes"] = map[string]any{"k": strings.Repeat("v", 1024)} }), want: ReasonClaims},
		{name: "attributes over 1 KB in keys", tok: edit(func(p map[string]any) {
			p["attributes"] = map[string]any{strings.Repeat("k", 600): "", strings.Repeat("K", 600): ""}
		}), want: ReasonClaims},
		{name: "user_id of 129 characters", tok: edit(func(p map[string]any) { p["user_id"] = strings.Repeat("é", 129) }), want: ReasonClaims},
		{name: "user_id a number", tok: edit(func(p map[string]any) { p["user_id"] = 1 }), want: ReasonClaims},
		{name: "events_url a number", tok: edit(func(p map[string]any) { p["events_url"] = 1 }), want: ReasonClaims},
		{name: "version a number", tok: edit(func(p map[string]any) { p["version"] = 1.0 }), want: ReasonClaims},
		{name: "resource a number", tok: edit(func(p map[string]any) { p["resource"] = 1 }), want: ReasonClaims},

		// Stage.
		{name: "no resource", tok: edit(func(p map[string]any) { delete(p, "resource") }), want: ReasonWrongStage},
		{name: "resource a channel", tok: edit(func(p map[string]any) {
			p["resource"] = "arn:aws:ivs:us-east-1:" + testAccount + ":channel/" + testStageID
		}), want: ReasonWrongStage},
		{name: "resource not an ARN", tok: edit(func(p map[string]any) { p["resource"] = testStageID }), want: ReasonWrongStage},
		{name: "resource in another partition", tok: edit(func(p map[string]any) {
			p["resource"] = "arn:aws-cn:ivs:cn-north-1:" + testAccount + ":stage/" + testStageID
		}), want: ReasonWrongStage},
		{name: "resource with a suffix", tok: edit(func(p map[string]any) { p["resource"] = testStageARN + "/x" }), want: ReasonWrongStage},
		{name: "no topic", tok: edit(func(p map[string]any) { delete(p, "topic") }), want: ReasonWrongStage},
		{name: "topic another stage", tok: edit(func(p map[string]any) { p["topic"] = "oWXSOfbOLMte" }), want: ReasonWrongStage},
		{name: "for another stage", tok: valid, stage: "arn:aws:ivs:us-east-1:" + testAccount + ":stage/oWXSOfbOLMte", want: ReasonWrongStage},
		{name: "for the same stage id in another account", tok: valid, stage: "arn:aws:ivs:us-east-1:111122223333:stage/" + testStageID, want: ReasonWrongStage},

		// Accounts.
		{name: "self-signed with another account's key", tok: mint(t, customer, otherKeyARN, nil), want: ReasonWrongAccount},

		// Store.
		{name: "disconnected (server token)", tok: valid, lookup: func(l *fakeLookup) { l.disconnected[testStageARN+" p-1_abc"] = true }, want: ReasonDisconnected},
		{name: "disconnected (self-signed)", tok: mint(t, customer, testKeyARN, nil), lookup: func(l *fakeLookup) { l.disconnected[testStageARN+" p-1_abc"] = true }, want: ReasonDisconnected},
		{name: "public key look-up fails", tok: mint(t, customer, testKeyARN, nil), lookup: func(l *fakeLookup) { l.keyErr = errors.New("database is down") }, want: ReasonInternal},
		{name: "disconnected look-up fails", tok: valid, lookup: func(l *fakeLookup) { l.discErr = errors.New("database is down") }, want: ReasonInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lk := newLookupFor()
			v := &Verifier{Issuer: iss, Lookup: lk, Now: func() time.Time { return testNow }}
			if tc.name == "no lookup for a self-signed token" {
				v.Lookup = nil
			}
			if tc.lookup != nil {
				tc.lookup(lk)
			}
			c, err := v.Verify(context.Background(), tc.tok, tc.stage)
			if err == nil || c != nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.Reason != tc.want {
				t.Fatalf("reason %q (%v), want %q", e.Reason, err, tc.want)
			}
			if tc.want == ReasonAlgorithm && lk.keyCalls != 0 {
				t.Errorf("the public key was looked up before the algorithm was refused")
			}
			if tc.tok != "" && strings.Contains(err.Error(), tc.tok) {
				t.Errorf("the error message contains the token")
			}
		})
	}
}

// TestRefusedWithoutIssuer checks that a Verifier without an Issuer knows no server key.
func TestRefusedWithoutIssuer(t *testing.T) {
	iss := newIssuer(t)
	tok, err := iss.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Lookup: newLookup(), Now: func() time.Time { return testNow }}
	if _, err := v.Verify(context.Background(), tok, ""); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("%v, want unknown_key", err)
	}
}

// strayBits returns a token whose payload segment has a non-zero unused bit in its last character: the same bytes as
// the canonical encoding once decoded, but another string, so that a token would have two spellings.
func strayBits(t *testing.T, key *ecdsa.PrivateKey, kid string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for pad := 0; ; pad++ {
		tok := mint(t, key, kid, func(h, p map[string]any) { p["pad"] = strings.Repeat("x", pad) })
		parts := strings.Split(tok, ".")
		if len(parts[1])%4 == 0 {
			continue
		}
		last := strings.IndexByte(alphabet, parts[1][len(parts[1])-1])
		parts[1] = parts[1][:len(parts[1])-1] + string(alphabet[last^1])
		if _, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
			t.Fatal(err)
		}
		return strings.Join(parts, ".")
	}
}
