// Package arn builds and parses IVS ARNs and generates the service's identifiers (12-character resource ids,
// stream keys, stream ids), using crypto/rand throughout since several of them are secrets.
package arn

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// ARN is a parsed "arn:aws:ivs:<region>:<account>:<type>/<id>".
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Type      string
	ID        string
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Type + "/" + a.ID
}

// New returns the IVS ARN of a resource.
func New(region, account, typ, id string) string {
	return "arn:aws:ivs:" + region + ":" + account + ":" + typ + "/" + id
}

// Parse splits an ARN; it accepts only the six-part form with a "type/id" resource.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, fmt.Errorf("arn: %q is not an ARN", s)
	}
	typ, id, ok := strings.Cut(parts[5], "/")
	if !ok || typ == "" || id == "" {
		return ARN{}, fmt.Errorf("arn: %q has no type/id resource", s)
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Type: typ, ID: id}, nil
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Random returns n characters drawn uniformly from [A-Za-z0-9].
func Random(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	i := 0
	for i < n {
		rand.Read(buf)
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to stay uniform
				continue
			}
			out[i] = alnum[b%62]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

// NewID returns a 12-character resource id, the form every IVS id takes.
func NewID() string { return Random(12) }

// StreamKeyValue returns a stream key "sk_<region>_<streamKeyId>_<30 random characters>".
func StreamKeyValue(region, streamKeyID string) string {
	return "sk_" + region + "_" + streamKeyID + "_" + Random(30)
}

// StreamID returns a stream id "st-" + 23 characters.
func StreamID() string { return "st-" + Random(23) }
