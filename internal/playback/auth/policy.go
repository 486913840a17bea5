package auth

import (
	"strings"
)

// Policy is a playback restriction policy (CreatePlaybackRestrictionPolicy): allowed countries (ISO 3166-1 alpha-2),
// allowed origins (Origin header values) and strict origin enforcement. An empty list allows everything.
type Policy struct {
	AllowedCountries        []string
	AllowedOrigins          []string
	StrictOriginEnforcement bool
}

// Check applies the policy to one playback request. origin is the request's Origin header ("" when absent);
// country is the viewer's ISO 3166-1 alpha-2 country as the geo resolver found it ("" when unknown); multivariant
// is true for the playbackUrl (multivariant playlist) request. Errors are *Refusal with Restriction set:
//
//   - countries apply to every request: a country not listed → ReasonCountry; an unknown country ("") when the
//     policy lists countries → ReasonCountry, with a message saying how to configure country detection;
//   - origins apply as a token's aws:access-control-allow-origin does (see Claims.Check): to the multivariant
//     request when it carries an Origin, and to every request, which must then carry an allowed Origin, when
//     StrictOriginEnforcement is set → ReasonOrigin.
//
// An allowed origin may be "*" (any), an origin, or an origin with a wildcard host ("https://*.example.com");
// entries that are not origins match nothing.
func (p Policy) Check(origin, country string, multivariant bool) error {
	if len(p.AllowedCountries) > 0 {
		if country == "" {
			return restriction(ReasonCountry, "this channel's playback restriction policy allows only some countries and the viewer's "+
				"country is unknown: configure country detection on the server (a trusted country header set by the CDN or proxy in "+
				"front of it, such as CloudFront-Viewer-Country or CF-IPCountry, or a MaxMind GeoLite2/GeoIP2 Country database)")
		}
		if !containsFold(p.AllowedCountries, country) {
			return restriction(ReasonCountry, "playback of this channel is not allowed in country "+truncate(strings.ToUpper(country)))
		}
	}
	if len(p.AllowedOrigins) == 0 || (!p.StrictOriginEnforcement && (!multivariant || origin == "")) {
		return nil
	}
	return checkOrigin(policyOrigins(p.AllowedOrigins), origin, true)
}

// policyOrigins parses a policy's allowed origins; entries that do not parse are dropped (they match nothing).
func policyOrigins(list []string) allowList {
	var l allowList
	for _, item := range list {
		item = strings.TrimSpace(item)
		if item == "*" {
			return allowList{any: true}
		}
		if e, err := parseOrigin(strings.TrimSuffix(item, "/"), true); err == nil {
			l.entries = append(l.entries, e)
		}
	}
	return l
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
