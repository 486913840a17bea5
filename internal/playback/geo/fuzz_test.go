package geo

import (
	"net/http"
	"testing"
)

// FuzzClientIP feeds the client-address parsing arbitrary header values and remote addresses (both come from the
// network): it must never panic, and an address it returns must be valid, unzoned and never IPv4-mapped.
func FuzzClientIP(f *testing.F) {
	for _, seed := range [][3]string{
		{"X-Forwarded-For", "81.2.69.142, 10.0.0.2", "10.0.0.1:4000"},
		{"Forwarded", `for="[2001:218::9]:4711";proto=https, for=10.0.0.2`, "[::1]:80"},
		{"CloudFront-Viewer-Address", "2001:0218:0000:0000:0000:0000:0000:0009:46532", "10.0.0.1:1"},
		{"X-Real-IP", "[fe80::1%eth0]:80", "[::ffff:81.2.69.142]:5000"},
		{"", "", "garbage"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, name, value, remote string) {
		r := &http.Request{Header: http.Header{}, RemoteAddr: remote}
		if name != "" {
			r.Header[http.CanonicalHeaderKey(name)] = []string{value}
		}
		ip, ok := ClientIP(r, name)
		if !ok {
			return
		}
		if !ip.IsValid() || ip.Zone() != "" || ip.Is4In6() {
			t.Fatalf("ClientIP(%q: %q, %q) = %v", name, value, remote, ip)
		}
		_ = Header{Name: name}.Country(r)
	})
}
