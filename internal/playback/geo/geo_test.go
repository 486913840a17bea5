package geo

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func request(remoteAddr string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/video/v1/x.m3u8", nil)
	r.RemoteAddr = remoteAddr
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestHeader(t *testing.T) {
	h := Header{Name: "CloudFront-Viewer-Country"}
	for value, want := range map[string]string{
		"US": "US", "us": "US", "gB": "GB", " FR ": "FR",
		"": "", "USA": "", "U": "", "1A": "", "XX": "", "xx": "", "ZZ": "", "T1": "", "é": "", "U\x00": "",
	} {
		if got := h.Country(request("192.0.2.1:1234", "CloudFront-Viewer-Country", value)); got != want {
			t.Errorf("%q: %q, want %q", value, got, want)
		}
	}
	if got := h.Country(request("192.0.2.1:1234")); got != "" {
		t.Errorf("no header: %q", got)
	}
	// The header name is case-insensitive, as in HTTP.
	if got := (Header{Name: "cf-ipcountry"}).Country(request("192.0.2.1:1", "CF-IPCountry", "de")); got != "DE" {
		t.Errorf("CF-IPCountry: %q", got)
	}
	if got := (Header{}).Country(request("192.0.2.1:1", "", "DE")); got != "" {
		t.Errorf("no name: %q", got)
	}
}

type fixed string

func (f fixed) Country(*http.Request) string { return string(f) }

func TestChain(t *testing.T) {
	r := request("192.0.2.1:1", "CF-IPCountry", "NL")
	for _, tc := range []struct {
		c    Chain
		want string
	}{
		{nil, ""},
		{Chain{None{}, fixed("JP")}, "JP"},
		{Chain{Header{Name: "CF-IPCountry"}, fixed("JP")}, "NL"},
		{Chain{Header{Name: "CloudFront-Viewer-Country"}, nil, fixed("JP")}, "JP"},
		{Chain{None{}, Header{Name: "X-None"}}, ""},
	} {
		if got := tc.c.Country(r); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

// writeDB writes a small MaxMind-format database: networks → country (and registered country) records, in the
// GeoIP2-Country layout.
func writeDB(t testing.TB, dbType string, networks map[string][2]string) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, cc := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{}
		if cc[0] != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc[0]), "names": mmdbtype.Map{"en": mmdbtype.String("x")}}
		}
		if cc[1] != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc[1])}
		}
		rec["continent"] = mmdbtype.Map{"code": mmdbtype.String("EU")}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var testNetworks = map[string][2]string{
	"81.2.69.0/24":     {"GB", "GB"},
	"175.16.199.0/24":  {"CN", "CN"},
	"89.160.20.112/28": {"SE", "SE"},
	"2.125.160.216/29": {"", "FR"}, // no country: registered country used
	"2001:218::/32":    {"JP", "JP"},
	"2a02:cf40::/29":   {"NO", "NO"},
	"2a02:d280::/29":   {"cz", "CZ"}, // lower case in the database: normalised
}

func TestMaxMind(t *testing.T) {
	m, err := OpenMaxMind(writeDB(t, "GeoLite2-Country", testNetworks), "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for remote, want := range map[string]string{
		"81.2.69.142:5000":             "GB",
		"175.16.199.1:443":             "CN",
		"89.160.20.115:1":              "SE",
		"89.160.20.128:1":              "", // just outside the /28
		"2.125.160.218:1":              "FR",
		"[2001:218:1::5]:443":          "JP",
		"[2a02:cf40::1]:80":            "NO",
		"[2a02:d280::7]:80":            "CZ",
		"[::ffff:81.2.69.142]:5000":    "GB", // IPv4-mapped
		"8.8.8.8:53":                   "",
		"127.0.0.1:80":                 "",
		"[::1]:80":                     "",
		"[fe80::1%eth0]:80":            "",
		"not an address":               "",
		"":                             "",
		"81.2.69.142":                  "GB", // no port
		"[2001:218:1::5%zone]:443":     "JP",
		"2001:218:1:0:0:0:0:5":         "JP",
		"[2001:218:1:0:0:0:0:5]":       "JP",
		"[2001:218:1:0:0:0:0:5]:65535": "JP",
	} {
		if got := m.Country(request(remote)); got != want {
			t.Errorf("RemoteAddr %q: %q, want %q", remote, got, want)
		}
	}
	if got := m.Lookup(netip.MustParseAddr("2a02:cf40::abcd")); got != "NO" {
		t.Errorf("Lookup: %q", got)
	}
}

func TestMaxMindTrustedHeader(t *testing.T) {
	path := writeDB(t, "GeoIP2-City", testNetworks)
	xff, err := OpenMaxMind(path, "X-Forwarded-For")
	if err != nil {
		t.Fatal(err)
	}
	defer xff.Close()
	const proxy = "10.0.0.1:4000" // the proxy's address: no country
	for _, tc := range []struct {
		value, want string
	}{
		{"81.2.69.142", "GB"},
		{"81.2.69.142, 10.0.0.2, 10.0.0.3", "GB"},
		{" 2001:218::9 , 81.2.69.142", "JP"},
		{"[2001:218::9]:1234, 10.0.0.2", "JP"},
		{"175.16.199.9:5555", "CN"},
		{"unknown, 81.2.69.142", ""}, // the first entry is not an address: RemoteAddr (the proxy) is used
		{"", ""},
	} {
		if got := xff.Country(request(proxy, "X-Forwarded-For", tc.value)); got != tc.want {
			t.Errorf("X-Forwarded-For %q: %q, want %q", tc.value, got, tc.want)
		}
	}
	// Without the header the connection's address is used.
	if got := xff.Country(request("81.2.69.142:1")); got != "GB" {
		t.Errorf("no header: %q", got)
	}
	// Only the configured header is trusted.
	if got := xff.Country(request(proxy, "X-Real-IP", "81.2.69.142")); got != "" {
		t.Errorf("untrusted header used: %q", got)
	}

	fwd, err := OpenMaxMind(path, "Forwarded")
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	for value, want := range map[string]string{
		`for=81.2.69.142;proto=https;by=10.0.0.1`:         "GB",
		`For="[2001:218::9]:4711", for=10.0.0.2`:          "JP",
		`proto=https;for=175.16.199.9`:                    "CN",
		`proto=https`:                                     "",
		`for=_hidden, for=81.2.69.142`:                    "",
		`by=81.2.69.142`:                                  "",
		`for=unknown;proto=http, for="[2001:218::1]:443"`: "",
	} {
		if got := fwd.Country(request(proxy, "Forwarded", value)); got != want {
			t.Errorf("Forwarded %q: %q, want %q", value, got, want)
		}
	}

	cf, err := OpenMaxMind(path, "CloudFront-Viewer-Address")
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	for value, want := range map[string]string{
		"81.2.69.142:46532":                             "GB",
		"2001:0218:0000:0000:0000:0000:0000:0009:46532": "JP", // CloudFront's expanded IPv6 and a port, no brackets
	} {
		if got := cf.Country(request(proxy, "CloudFront-Viewer-Address", value)); got != want {
			t.Errorf("CloudFront-Viewer-Address %q: %q, want %q", value, got, want)
		}
	}
}

func TestOpenMaxMindErrors(t *testing.T) {
	if _, err := OpenMaxMind(filepath.Join(t.TempDir(), "missing.mmdb"), ""); err == nil {
		t.Error("missing file opened")
	}
	junk := filepath.Join(t.TempDir(), "junk.mmdb")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenMaxMind(junk, ""); err == nil {
		t.Error("junk opened")
	}
	_, err := OpenMaxMind(writeDB(t, "GeoLite2-ASN", map[string][2]string{"81.2.69.0/24": {"GB", ""}}), "")
	if err == nil || !strings.Contains(err.Error(), "no countries") {
		t.Errorf("ASN database: %v", err)
	}
}

// A record whose country is not a map (another vendor's layout) gives "" rather than an error or a panic.
func TestMaxMindOtherLayout(t *testing.T) {
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "other-country", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("81.2.69.0/24")
	if err := w.Insert(n, mmdbtype.Map{"country": mmdbtype.String("GB")}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.mmdb")
	f, _ := os.Create(path)
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := OpenMaxMind(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Country(request("81.2.69.1:1")); got != "" {
		t.Errorf("%q", got)
	}
}

func TestMaxMindConcurrent(t *testing.T) {
	m, err := OpenMaxMind(writeDB(t, "GeoLite2-Country", testNetworks), "X-Forwarded-For")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				if got := m.Country(request("10.0.0.1:1", "X-Forwarded-For", "2001:218::1")); got != "JP" {
					t.Errorf("%q", got)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkMaxMind(b *testing.B) {
	m, err := OpenMaxMind(writeDB(b, "GeoLite2-Country", testNetworks), "X-Forwarded-For")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r := request("10.0.0.1:1", "X-Forwarded-For", "81.2.69.142, 10.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		if m.Country(r) != "GB" {
			b.Fatal("lookup")
		}
	}
}
