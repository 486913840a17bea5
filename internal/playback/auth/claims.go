package auth

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/openivs/openivs/internal/jwtjson"
)

// The helpers below decode the playback claims strictly, on internal/jwtjson.

// stringClaim decodes an optional string claim; null counts as absent.
func stringClaim(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok || jwtjson.IsNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

// boolClaim decodes an optional boolean claim: true, false, or the strings "true" and "false"; null counts as absent.
func boolClaim(fields map[string]json.RawMessage, name string) (bool, error) {
	raw, ok := fields[name]
	if !ok || jwtjson.IsNull(raw) {
		return false, nil
	}
	switch string(raw) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`:
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean", name)
}

// int64Claim decodes an optional integer claim, given as a JSON number without fraction or exponent, or as a
// string holding one (as IVS's documentation shows aws:viewer-session-version); null counts as absent (0).
func int64Claim(fields map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := fields[name]
	if !ok || jwtjson.IsNull(raw) {
		return 0, nil
	}
	s := string(raw)
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%s is not an integer", name)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (len(s) > 0 && s[0] == '+') {
		return 0, fmt.Errorf("%s is not a 64-bit integer", name)
	}
	return n, nil
}
