package sqlite

import (
	"encoding/json"
	"strings"
)

// The refs and tags columns hold JSON written by encoding/json. Decoding them is a large part of the cost of
// reading a resource, so these decoders parse the common case directly, compact JSON whose strings contain no
// escape sequences (so the string bytes are the value), and hand anything else to encoding/json. The substrings
// share the column's string, which the driver allocated for this row.

// decodeRefs decodes a JSON array of strings.
func decodeRefs(s string) ([]string, error) {
	if refs, ok := fastRefs(s); ok {
		return refs, nil
	}
	var refs []string
	err := json.Unmarshal([]byte(s), &refs)
	return refs, err
}

// decodeTags decodes a JSON object of strings.
func decodeTags(s string) (map[string]string, error) {
	if tags, ok := fastTags(s); ok {
		return tags, nil
	}
	var tags map[string]string
	err := json.Unmarshal([]byte(s), &tags)
	return tags, err
}

func fastRefs(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' {
		return nil, false
	}
	if s == "[]" {
		return []string{}, true
	}
	refs := make([]string, 0, strings.Count(s, `","`)+1)
	for i := 1; ; {
		v, j, ok := fastString(s, i)
		if !ok || j >= len(s) {
			return nil, false
		}
		refs = append(refs, v)
		switch s[j] {
		case ',':
			i = j + 1
		case ']':
			return refs, j+1 == len(s)
		default:
			return nil, false
		}
	}
}

func fastTags(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' {
		return nil, false
	}
	if s == "{}" {
		return map[string]string{}, true
	}
	tags := make(map[string]string, strings.Count(s, `":"`))
	for i := 1; ; {
		k, j, ok := fastString(s, i)
		if !ok || j >= len(s) || s[j] != ':' {
			return nil, false
		}
		v, j, ok := fastString(s, j+1)
		if !ok || j >= len(s) {
			return nil, false
		}
		if _, dup := tags[k]; dup {
			return nil, false // encoding/json keeps the last; not worth duplicating here
		}
		tags[k] = v
		switch s[j] {
		case ',':
			i = j + 1
		case '}':
			return tags, j+1 == len(s)
		default:
			return nil, false
		}
	}
}

// fastString reads the JSON string starting at s[i], a '"', when it holds no escape or control character; it
// returns the string and the index after its closing quote.
func fastString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}
