// Package geo finds a playback viewer's country, for the allowedCountries of playback restriction policies.
//
// IVS finds the country from the viewer's IP address with data of its own. OpenIVS cannot ship such data, so the
// operator chooses: trust a country header set by the CDN or proxy in front of the server (Header: CloudFront's
// CloudFront-Viewer-Country, Cloudflare's CF-IPCountry…), or look the client address up in a MaxMind-format database
// file (MaxMind: GeoLite2 or GeoIP2 Country or City, or any database with the same country fields), or both in order
// (Chain). The database is read with github.com/oschwald/maxminddb-golang; this package only decides which address
// to look up and which field to read.
package geo

import (
	"net/http"
	"strings"
)

// Resolver finds a viewer's ISO 3166-1 alpha-2 country (upper case), "" when unknown. Implementations are safe for
// concurrent use.
type Resolver interface {
	Country(r *http.Request) string
}

// Header trusts a country header that the edge in front of OpenIVS sets (and that clients cannot set through it),
// such as "CloudFront-Viewer-Country" or "CF-IPCountry". The value is upper-cased; anything but two ASCII letters,
// and the "unknown" codes XX and ZZ, give "".
type Header struct{ Name string }

// Country implements Resolver.
func (h Header) Country(r *http.Request) string {
	if h.Name == "" {
		return ""
	}
	return Normalize(r.Header.Get(h.Name))
}

// Normalize returns code as an upper-case ISO 3166-1 alpha-2 code, or "" when it is not two ASCII letters or is one
// of the codes edges use for "unknown" (XX, ZZ). Surrounding spaces are ignored.
func Normalize(code string) string {
	code = strings.TrimSpace(code)
	if len(code) != 2 {
		return ""
	}
	var b [2]byte
	for i := range 2 {
		c := code[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
		default:
			return ""
		}
		b[i] = c
	}
	s := string(b[:])
	if s == "XX" || s == "ZZ" {
		return ""
	}
	return s
}

// Chain tries resolvers in order; the first country found wins.
type Chain []Resolver

// Country implements Resolver.
func (c Chain) Country(r *http.Request) string {
	for _, res := range c {
		if res == nil {
			continue
		}
		if cc := res.Country(r); cc != "" {
			return cc
		}
	}
	return ""
}

// None is a Resolver that knows no country: policies listing countries then refuse every viewer, with a message
// saying how to configure detection.
type None struct{}

// Country implements Resolver.
func (None) Country(*http.Request) string { return "" }
