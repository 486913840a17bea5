package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Files of an Issuer's directory.
const (
	keySuffix   = ".pem"    // <key id>.pem: a PKCS#8 (or SEC 1 "EC PRIVATE KEY") P-384 private key, mode 0600
	currentFile = "current" // the id of the key that signs new tokens
	tmpPrefix   = ".tmp-"
)

// keyIDPattern is what a server key id may look like (a key file's name without .pem). It cannot be mistaken for an
// ARN, which has colons. Generated ids are RFC 7638 JWK thumbprints (SHA-256, base64url, 43 characters).
var keyIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// Issuer signs tokens with the server's ES384 (P-384) keys, kept in a directory (the server passes
// <data-dir>/keys/participant-tokens).
//
// The first OpenIssuer creates a key; Rotate makes a new current key while older keys keep verifying the tokens they
// signed until they are removed with Retire. Each key is a PEM file <key id>.pem (mode 0600, directory 0700), and the
// file "current" names the key that signs, so keys survive restarts. A key file an operator puts in the directory
// (P-384, PKCS#8 or SEC 1 PEM, named <id>.pem with id matching [a-zA-Z0-9_-]{1,128}) is loaded like the others.
//
// An Issuer is safe for concurrent use. Two processes must not share a directory.
type Issuer struct {
	dir string

	mu      sync.RWMutex
	keys    map[string]*ecdsa.PrivateKey
	current string
}

// OpenIssuer opens the key directory dir, creating it and a first key when there is none.
//
// When "current" is missing but keys exist (a crash between writing a first key and naming it), the most recently
// modified key becomes current. When "current" names a key that is not there, OpenIssuer fails rather than guess.
func OpenIssuer(dir string) (*Issuer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: key directory: %w", err)
	}
	i := &Issuer{dir: dir, keys: make(map[string]*ecdsa.PrivateKey)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("token: key directory: %w", err)
	}
	var newest string
	var newestTime time.Time
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			os.Remove(filepath.Join(dir, name)) // left by an interrupted write
			continue
		}
		id, ok := strings.CutSuffix(name, keySuffix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("token: key file %s: the name is not <id>.pem with id [a-zA-Z0-9_-]{1,128}", name)
		}
		key, err := readKey(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		i.keys[id] = key
		if info, err := e.Info(); err == nil && (newest == "" || info.ModTime().After(newestTime)) {
			newest, newestTime = id, info.ModTime()
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, currentFile))
	switch {
	case err == nil:
		i.current = strings.TrimSpace(string(b))
		if _, ok := i.keys[i.current]; !ok {
			return nil, fmt.Errorf("token: %s names key %q, which is not in %s", currentFile, i.current, dir)
		}
	case errors.Is(err, fs.ErrNotExist) && newest != "":
		if err := i.setCurrent(newest); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if _, err := i.Rotate(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("token: %w", err)
	}
	return i, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("token: key file %s holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("token: key file %s: PEM block %q is not a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("token: key file %s: %w", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P384() {
		return nil, fmt.Errorf("token: key file %s: not a P-384 ECDSA key", path)
	}
	return ec, nil
}

// writeFile writes a file of dir atomically, with mode 0600.
func writeFile(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("token: writing %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// setCurrent records id as the current key; the caller holds mu (or is OpenIssuer).
func (i *Issuer) setCurrent(id string) error {
	if err := writeFile(i.dir, currentFile, []byte(id+"\n")); err != nil {
		return err
	}
	i.current = id
	return nil
}

// thumbprint returns the RFC 7638 JWK thumbprint of a P-384 public key.
func thumbprint(pub *ecdsa.PublicKey) (string, error) {
	ecdhKey, err := pub.ECDH()
	if err != nil {
		return "", err
	}
	point := ecdhKey.Bytes() // 0x04 || X || Y
	n := (len(point) - 1) / 2
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := `{"crv":"P-384","kty":"EC","x":"` + b64(point[1:1+n]) + `","y":"` + b64(point[1+n:]) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return b64(sum[:]), nil
}

// Rotate makes a new key and makes it current: new tokens carry its id. Older keys keep verifying their tokens.
func (i *Issuer) Rotate() (keyID string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	id, err := thumbprint(&key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := writeFile(i.dir, id+keySuffix, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return "", err
	}
	i.keys[id] = key
	if err := i.setCurrent(id); err != nil {
		return "", err
	}
	return id, nil
}

// Retire removes a key: tokens it signed no longer verify. It refuses to retire the current key (Rotate first).
func (i *Issuer) Retire(keyID string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if keyID == i.current {
		return fmt.Errorf("token: key %q is the current key; rotate before retiring it", keyID)
	}
	if _, ok := i.keys[keyID]; !ok {
		return fmt.Errorf("token: key %q: %w", keyID, ErrUnknownKey)
	}
	if err := os.Remove(filepath.Join(i.dir, keyID+keySuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("token: %w", err)
	}
	delete(i.keys, keyID)
	return nil
}

// KeyIDs returns the ids of the keys that verify tokens, sorted.
func (i *Issuer) KeyIDs() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	ids := make([]string, 0, len(i.keys))
	for id := range i.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// CurrentKeyID returns the id of the key that signs new tokens.
func (i *Issuer) CurrentKeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.current
}

// publicKey returns the public half of a server key.
func (i *Issuer) publicKey(keyID string) (*ecdsa.PublicKey, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	k, ok := i.keys[keyID]
	if !ok {
		return nil, false
	}
	return &k.PublicKey, true
}

// Issue signs a token with the current key (alg ES384, kid = the key id) and returns it.
//
// Zero or empty fields are filled: IssuedAt with the current time, ExpiresAt with IssuedAt + DefaultLifetime,
// Version with "0.0", StageID with the id of StageARN. KeyID and SelfSigned are ignored. Times are truncated to
// seconds. Issue refuses claims Verify would refuse regardless of the clock (a bad jti, a lifetime over 14 days,
// oversized attributes or user id, a resource that is not a stage ARN, a topic that is not its id); the error is then
// an *Error.
func (i *Issuer) Issue(c Claims) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	c.IssuedAt = time.Unix(c.IssuedAt.Unix(), 0)
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(DefaultLifetime)
	}
	c.ExpiresAt = time.Unix(c.ExpiresAt.Unix(), 0)
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.StageID == "" {
		if _, id, ok := stageOf(c.StageARN); ok {
			c.StageID = id
		}
	}
	if err := checkClaims(&c, true); err != nil {
		return "", fmt.Errorf("token: cannot issue: %w", err)
	}
	if err := checkLifetime(c.IssuedAt, c.ExpiresAt); err != nil {
		return "", fmt.Errorf("token: cannot issue: %w", err)
	}
	p := &wirePayload{
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(),
		Jti: c.ParticipantID, Resource: c.StageARN, Topic: c.StageID,
		EventsURL: c.EventsURL, WHIPURL: c.WHIPURL, UserID: c.UserID, Attributes: c.Attributes,
		Capabilities: wireCapabilities{AllowPublish: c.Capabilities.Publish, AllowSubscribe: c.Capabilities.Subscribe},
		Version:      c.Version,
	}
	i.mu.RLock()
	kid, key := i.current, i.keys[i.current]
	i.mu.RUnlock()
	t := jwt.NewWithClaims(jwt.SigningMethodES384, p)
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	if len(s) > MaxTokenBytes {
		return "", fmt.Errorf("token: cannot issue: %w", refusef(ReasonMalformed, "token longer than 16 KB"))
	}
	return s, nil
}
