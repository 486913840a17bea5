// Package pagetoken makes the opaque nextToken values of List operations: a creation sequence to resume after,
// bound to the operation and its filters, and authenticated with a server secret so a forged or altered token is
// refused (ValidationException) instead of silently listing something else.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
)

// ErrInvalid is returned for a token that was not made by this server for this query.
var ErrInvalid = errors.New("pagetoken: invalid token")

// Codec encodes and decodes tokens.
type Codec struct{ secret []byte }

// New returns a Codec keyed by secret (at least 32 random bytes, kept across restarts so tokens stay valid).
func New(secret []byte) *Codec { return &Codec{secret: secret} }

const macLen = 12

// Encode returns the token that resumes the query scope after seq. scope names the operation, the caller and
// the filters.
func (c *Codec) Encode(scope string, seq int64) string {
	var b [8 + 4 + macLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seq))
	binary.BigEndian.PutUint32(b[8:12], scopeHash(scope))
	copy(b[12:], c.mac(b[:12]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Decode returns the sequence a token resumes after; ErrInvalid unless it was made by Encode with the same scope.
func (c *Codec) Decode(scope, token string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 8+4+macLen {
		return 0, ErrInvalid
	}
	if !hmac.Equal(b[12:], c.mac(b[:12])) || binary.BigEndian.Uint32(b[8:12]) != scopeHash(scope) {
		return 0, ErrInvalid
	}
	return int64(binary.BigEndian.Uint64(b[:8])), nil
}

func (c *Codec) mac(b []byte) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

func scopeHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
