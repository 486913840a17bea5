package geo

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// MaxMind finds the country of the client address in a MaxMind-format database: the record's country.iso_code, or
// its registered_country.iso_code when the record has no country (as for some anonymous and satellite networks).
// Safe for concurrent use.
type MaxMind struct {
	db       *maxminddb.Reader
	ipHeader string
}

// OpenMaxMind opens a MaxMind-format database file (GeoLite2-Country.mmdb, GeoIP2-City.mmdb…).
//
// The client address is the connection's (r.RemoteAddr) unless clientIPHeader names a header set by a trusted proxy
// in front of the server: then its first address is used (the X-Forwarded-For convention "client, proxy1, proxy2";
// also X-Real-IP, True-Client-IP, CF-Connecting-IP, CloudFront-Viewer-Address "ip:port", and Forwarded's
// for= parameter). Name such a header only if the proxy replaces any value the client sent: otherwise viewers can
// choose their country. When the header is absent or holds no address, RemoteAddr is used.
func OpenMaxMind(path, clientIPHeader string) (*MaxMind, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open MaxMind database %s: %w", path, err)
	}
	m := &MaxMind{db: db, ipHeader: clientIPHeader}
	// A MaxMind database without country data (ASN, ISP…) would make every viewer's country unknown: say so now.
	if t := db.Metadata.DatabaseType; countryless[t] {
		_ = db.Close()
		return nil, fmt.Errorf("geo: %s is a %s database, which has no countries: use a Country or City database", path, t)
	}
	return m, nil
}

// countryless are the MaxMind database types that hold no countries.
var countryless = map[string]bool{
	"GeoLite2-ASN": true, "GeoIP2-ISP": true, "GeoIP2-Domain": true, "GeoIP2-Connection-Type": true,
	"GeoIP2-Anonymous-IP": true, "GeoIP-Anonymous-Plus": true, "GeoIP2-User-Connection-Type": true,
}

// Close closes the database.
func (m *MaxMind) Close() error { return m.db.Close() }

// countryRecord is the part of a GeoIP2 Country or City record that is read.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country implements Resolver.
func (m *MaxMind) Country(r *http.Request) string {
	ip, ok := ClientIP(r, m.ipHeader)
	if !ok {
		return ""
	}
	return m.Lookup(ip)
}

// Lookup returns the country of an address, "" when the database has none for it.
func (m *MaxMind) Lookup(ip netip.Addr) string {
	var rec countryRecord
	if err := m.db.Lookup(ip.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	if c := Normalize(rec.Country.ISOCode); c != "" {
		return c
	}
	return Normalize(rec.RegisteredCountry.ISOCode)
}

// ClientIP returns the client address of a request: the first address in header (when header is not "" and holds
// one; see OpenMaxMind), else the host of r.RemoteAddr.
func ClientIP(r *http.Request, header string) (netip.Addr, bool) {
	if header != "" {
		if v := r.Header.Get(header); v != "" {
			if ip, ok := firstAddr(v, strings.EqualFold(header, "Forwarded")); ok {
				return ip, true
			}
		}
	}
	return parseAddr(r.RemoteAddr)
}

// firstAddr returns the first address of a list header value.
func firstAddr(v string, forwarded bool) (netip.Addr, bool) {
	first, _, _ := strings.Cut(v, ",")
	if forwarded { // RFC 7239: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"
		found := false
		for param := range strings.SplitSeq(first, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(k, "for") {
				first, found = val, true
				break
			}
		}
		if !found {
			return netip.Addr{}, false
		}
	}
	return parseAddr(first)
}

// parseAddr parses an address written alone or with a port, as "1.2.3.4", "1.2.3.4:80", "[::1]:80", "::1", or
// CloudFront's expanded "2001:0db8:…:7334:46532" (eight groups and a port); quotes and brackets are removed.
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if s == "" {
		return netip.Addr{}, false
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return ip.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			return ip.Unmap().WithZone(""), true
		}
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Count(s, ":") == 8 {
		if ip, err := netip.ParseAddr(s[:i]); err == nil {
			return ip.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
