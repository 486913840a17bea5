package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"time"
)

// Sealed-string layout, before base64url (no padding):
//
//	version (1 byte, sealVersion) | exp (5 bytes, big-endian Unix seconds) | payload | tag (16 bytes)
//
// tag is HMAC-SHA256 over everything before it, under the server secret, truncated to 128 bits (as RFC 2104 allows:
// forging one takes about 2^128 tries, each a request to the server). A ~60-byte payload seals to 110 characters.
const (
	sealVersion  = 1
	sealHeader   = 1 + 5
	sealTagBytes = 16
	// MaxSealedBytes bounds what Open decodes; longer strings are refused unread.
	MaxSealedBytes = 2048
	// MinSecretBytes is the shortest secret NewSealer accepts.
	MinSecretBytes = 16
	maxSealExp     = 1<<40 - 1
)

// Sealer signs short opaque strings that the playback server puts in the URLs it hands out (variant playlists,
// segments, parts): a payload of the caller's choosing and an expiry, sealed with HMAC-SHA256 under a server secret,
// in base64url without padding (safe in a URL path segment). The payload is authenticated, not encrypted: it must
// hold nothing secret. Safe for concurrent use.
type Sealer struct {
	macs []*sync.Pool // one pool of keyed HMACs per secret: [0] seals, all open
}

// NewSealer returns a Sealer that seals with secret and opens what secret or any of previous sealed, so that the
// secret can be rotated without breaking the sessions in progress. It panics if a secret is shorter than
// MinSecretBytes (a configuration error: use 32 random bytes).
func NewSealer(secret []byte, previous ...[]byte) *Sealer {
	s := &Sealer{}
	for _, sec := range append([][]byte{secret}, previous...) {
		if len(sec) < MinSecretBytes {
			panic("auth: a Sealer secret must be at least 16 bytes")
		}
		key := append([]byte(nil), sec...)
		s.macs = append(s.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
	}
	return s
}

// tag computes the tag of msg under secret i into dst (sealTagBytes long).
func (s *Sealer) tag(i int, msg, dst []byte) {
	h := s.macs[i].Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	var sum [sha256.Size]byte
	copy(dst, h.Sum(sum[:0]))
	s.macs[i].Put(h)
}

// Seal seals payload with an expiry (to the second, rounded up; clamped to the representable range).
func (s *Sealer) Seal(payload []byte, exp time.Time) string {
	sec := exp.Unix()
	if exp.Nanosecond() > 0 {
		sec++
	}
	sec = max(0, min(sec, maxSealExp))
	n := sealHeader + len(payload)
	buf := make([]byte, n+sealTagBytes)
	buf[0] = sealVersion
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], uint64(sec))
	copy(buf[1:sealHeader], e[3:])
	copy(buf[sealHeader:], payload)
	s.tag(0, buf[:n], buf[n:])
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Open checks a sealed string's signature, then its expiry, and returns its payload. Errors are *Refusal:
// ReasonURLSignature when it is not a string this server sealed (altered, truncated, another secret's),
// ReasonSessionExpired when its expiry is not after now.
func (s *Sealer) Open(token string, now time.Time) ([]byte, error) {
	if len(token) > MaxSealedBytes {
		return nil, Refuse(ReasonURLSignature, "the URL's signature is not valid")
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(buf) < sealHeader+sealTagBytes || buf[0] != sealVersion {
		return nil, Refuse(ReasonURLSignature, "the URL's signature is not valid")
	}
	n := len(buf) - sealTagBytes
	var want [sealTagBytes]byte
	ok := false
	for i := range s.macs {
		s.tag(i, buf[:n], want[:])
		if hmac.Equal(want[:], buf[n:]) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, Refuse(ReasonURLSignature, "the URL's signature is not valid")
	}
	var e [8]byte
	copy(e[3:], buf[1:sealHeader])
	if exp := int64(binary.BigEndian.Uint64(e[:])); now.Unix() >= exp {
		return nil, Refuse(ReasonSessionExpired, "this playback session has expired: reload the playback URL")
	}
	return buf[sealHeader:n], nil
}
