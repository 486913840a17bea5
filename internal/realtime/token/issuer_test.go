package token

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys", "participant-tokens")
	iss, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Issuer: iss, Now: func() time.Time { return testNow }}
	ctx := context.Background()
	verify := func(tok string) (*Claims, error) { return v.Verify(ctx, tok, testStageARN) }

	first := iss.CurrentKeyID()
	if ids := iss.KeyIDs(); !slices.Equal(ids, []string{first}) {
		t.Fatalf("KeyIDs %v, want [%s]", ids, first)
	}
	oldTok, err := iss.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}

	second, err := iss.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if second == first || iss.CurrentKeyID() != second {
		t.Fatalf("Rotate: %q, current %q, first %q", second, iss.CurrentKeyID(), first)
	}
	if c, err := verify(oldTok); err != nil || c.KeyID != first {
		t.Fatalf("old token after Rotate: %+v, %v", c, err)
	}
	newTok, err := iss.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := verify(newTok); err != nil || c.KeyID != second {
		t.Fatalf("new token: %+v, %v; want kid %s", c, err, second)
	}
	want := []string{first, second}
	slices.Sort(want)
	if ids := iss.KeyIDs(); !slices.Equal(ids, want) {
		t.Fatalf("KeyIDs %v, want %v", ids, want)
	}

	// Keys survive reopening the directory, the current one included.
	iss2, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if iss2.CurrentKeyID() != second || !slices.Equal(iss2.KeyIDs(), want) {
		t.Fatalf("reopened: current %q, keys %v", iss2.CurrentKeyID(), iss2.KeyIDs())
	}
	v2 := &Verifier{Issuer: iss2, Now: func() time.Time { return testNow }}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := v2.Verify(ctx, tok, testStageARN); err != nil {
			t.Fatalf("after reopening: %v", err)
		}
	}

	// Key files are 0600, the directory 0700.
	for _, id := range want {
		info, err := os.Stat(filepath.Join(dir, id+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("key file %s has mode %o, want 600", id, mode)
		}
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v, %v; want mode 700", info.Mode(), err)
	}

	// Retire: the current key cannot be retired; an old key can, and its tokens are then refused.
	if err := iss.Retire(second); err == nil {
		t.Fatal("Retire retired the current key")
	}
	if err := iss.Retire("NoSuchKey"); err == nil {
		t.Fatal("Retire of an unknown key succeeded")
	}
	if err := iss.Retire(first); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(oldTok); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("old token after Retire: %v, want unknown_key", err)
	}
	if _, err := verify(newTok); err != nil {
		t.Fatalf("new token after Retire of the old key: %v", err)
	}
	if ids := iss.KeyIDs(); !slices.Equal(ids, []string{second}) {
		t.Fatalf("KeyIDs after Retire %v", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, first+".pem")); !os.IsNotExist(err) {
		t.Fatalf("retired key file still there: %v", err)
	}
	// ... and stays retired after reopening.
	iss3, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(iss3.KeyIDs(), []string{second}) {
		t.Fatalf("reopened after Retire: %v", iss3.KeyIDs())
	}
	v3 := &Verifier{Issuer: iss3, Now: func() time.Time { return testNow }}
	if _, err := v3.Verify(ctx, oldTok, ""); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("old token after Retire and reopening: %v", err)
	}
}

func TestKeyFileFormat(t *testing.T) {
	dir := t.TempDir()
	iss, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	kid := iss.CurrentKeyID()
	b, err := os.ReadFile(filepath.Join(dir, kid+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PKCS#8 PEM: %q", b)
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
	if cur, err := os.ReadFile(filepath.Join(dir, "current")); err != nil || strings.TrimSpace(string(cur)) != kid {
		t.Fatalf("current file: %q, %v", cur, err)
	}
	// The id is the RFC 7638 thumbprint of the key.
	if tp, _ := thumbprint(&serverKey(t, iss, kid).PublicKey); tp != kid || len(kid) != 43 {
		t.Fatalf("kid %q, thumbprint %q", kid, tp)
	}
}

// TestOpenIssuerDirectory covers keys an operator puts in the directory and recovery from interrupted writes.
func TestOpenIssuerDirectory(t *testing.T) {
	t.Run("operator key, SEC 1, no current file", func(t *testing.T) {
		dir := t.TempDir()
		key := newKey(t, elliptic.P384())
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ops-2026.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		iss, err := OpenIssuer(dir)
		if err != nil {
			t.Fatal(err)
		}
		if iss.CurrentKeyID() != "ops-2026" || !slices.Equal(iss.KeyIDs(), []string{"ops-2026"}) {
			t.Fatalf("current %q, keys %v", iss.CurrentKeyID(), iss.KeyIDs())
		}
		if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !os.IsNotExist(err) {
			t.Errorf("leftover temporary file not removed: %v", err)
		}
		tok, err := iss.Issue(sampleClaims())
		if err != nil {
			t.Fatal(err)
		}
		v := &Verifier{Issuer: iss, Now: func() time.Time { return testNow }}
		if c, err := v.Verify(context.Background(), tok, ""); err != nil || c.KeyID != "ops-2026" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("current names a missing key", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := OpenIssuer(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "current"), []byte("gone\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenIssuer(dir); err == nil {
			t.Fatal("OpenIssuer accepted a current file naming a missing key")
		}
	})
	for name, content := range map[string][]byte{
		"not PEM":     []byte("hello"),
		"public key":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"P-256 key":   p256PEM(t),
		"corrupt DER": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		t.Run("refuses a key file: "+name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.pem"), content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenIssuer(dir); err == nil {
				t.Fatal("OpenIssuer accepted it")
			}
		})
	}
	t.Run("refuses a key file name", func(t *testing.T) {
		dir := t.TempDir()
		writeServerKey(t, dir, newKey(t, elliptic.P384()))
		b, _ := os.ReadDir(dir)
		if err := os.Rename(filepath.Join(dir, b[0].Name()), filepath.Join(dir, "a:b.pem")); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenIssuer(dir); err == nil {
			t.Fatal("OpenIssuer accepted a key id with a colon")
		}
	})
}

func p256PEM(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(newKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestConcurrentIssueRotate is for the race detector.
func TestConcurrentIssueRotate(t *testing.T) {
	iss := newIssuer(t)
	v := &Verifier{Issuer: iss, Now: func() time.Time { return testNow }}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				tok, err := iss.Issue(sampleClaims())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := v.Verify(context.Background(), tok, ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if _, err := iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		_ = iss.KeyIDs()
	}
	wg.Wait()
}
