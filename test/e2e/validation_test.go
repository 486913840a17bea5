package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The validation tests are generated from the model itself: for every operation, every member of its input that
// carries a constraint (required, length, size, range, pattern, enum) gets a request that is valid but for that
// one member, and the server must answer 400 ValidationException naming the member, and change nothing.

type vModel struct {
	Operations map[string]struct {
		HTTP struct {
			Method     string `json:"method"`
			RequestURI string `json:"requestUri"`
		} `json:"http"`
		Input *struct {
			Shape string `json:"shape"`
		} `json:"input"`
	} `json:"operations"`
	Shapes map[string]*vShape `json:"shapes"`
}

type vMember struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`
}

type vShape struct {
	Type     string              `json:"type"`
	Members  map[string]*vMember `json:"members"`
	Required []string            `json:"required"`
	Member   *vMember            `json:"member"`
	Key      *vMember            `json:"key"`
	Value    *vMember            `json:"value"`
	Enum     []string            `json:"enum"`
	Min      *float64            `json:"min"`
	Max      *float64            `json:"max"`
	Pattern  string              `json:"pattern"`
}

func loadModel(t *testing.T, name string) *vModel {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(), "internal", "spec", "models", name))
	if err != nil {
		t.Fatal(err)
	}
	m := new(vModel)
	if err := json.Unmarshal(raw, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// validSamples are values that satisfy each pattern of the model (checked below, so a new model pattern without a
// sample fails the test instead of going untested).
var validSamples = map[string]string{
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+":                          "arn:aws:ivs:us-west-2:111111111111:channel/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:stream-key/[a-zA-Z0-9-]+":                       "arn:aws:ivs:us-west-2:111111111111:stream-key/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:playback-key/[a-zA-Z0-9-]+":                     "arn:aws:ivs:us-west-2:111111111111:playback-key/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:recording-configuration/[a-zA-Z0-9-]+":          "arn:aws:ivs:us-west-2:111111111111:recording-configuration/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:playback-restriction-policy/[a-zA-Z0-9-]+":      "arn:aws:ivs:us-west-2:111111111111:playback-restriction-policy/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:ad-configuration/[a-zA-Z0-9-]+":                 "arn:aws:ivs:us-west-2:111111111111:ad-configuration/abcdABCD1234",
	"^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:recording-configuration/[a-zA-Z0-9-]+$":     "",
	"^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:playback-restriction-policy/[a-zA-Z0-9-]+$": "",
	"^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:ad-configuration/[a-zA-Z0-9-]+$":            "",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+":                           "arn:aws:ivs:us-west-2:111111111111:channel/abcdABCD1234",
	"arn:aws:mediatailor:[a-z0-9-]+:[0-9]+:playbackConfiguration/[a-zA-Z0-9-]+":    "arn:aws:mediatailor:us-west-2:111111111111:playbackConfiguration/cfg",
	"[a-zA-Z0-9-_]*":                    "name-1",
	"[a-zA-Z0-9+/=_-]*":                 "",
	"([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)": "key",
	"([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": "value",
	"[a-z0-9-.]+":                       "bucket-1",
	"[a-zA-Z0-9]+":                      "abc",
	"st-[a-zA-Z0-9]+":                   "st-abcdefghijklmnopqrstuvw",
	// ivs-realtime
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+":                      "arn:aws:ivs:us-west-2:111111111111:stage/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:composition/[a-zA-Z0-9-]+":                "arn:aws:ivs:us-west-2:111111111111:composition/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:encoder-configuration/[a-zA-Z0-9-]+":      "arn:aws:ivs:us-west-2:111111111111:encoder-configuration/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:storage-configuration/[a-zA-Z0-9-]+":      "arn:aws:ivs:us-west-2:111111111111:storage-configuration/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:ingest-configuration/[a-zA-Z0-9-]+":       "arn:aws:ivs:us-west-2:111111111111:ingest-configuration/abcdABCD1234",
	"arn:aws:ivs:[a-z0-9-]+:[0-9]+:public-key/[a-zA-Z0-9-]+":                 "arn:aws:ivs:us-west-2:111111111111:public-key/abcdABCD1234",
	"^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+$":                 "",
	"^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:storage-configuration/[a-zA-Z0-9-]+$": "",
	"[a-z0-9-.]*":   "bucket-1",
	"[a-zA-Z0-9-]*": "abc-1",
	".*-----BEGIN PUBLIC KEY-----\\r?\\n([a-zA-Z0-9+/=\\r\\n]+)\\r?\\n-----END PUBLIC KEY-----(\\r?\\n)?.*": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
}

// invalidForPattern returns a value that fails the pattern, of a length the member allows.
func invalidForPattern(s *vShape) string {
	v := "!#%&"
	if s.Max != nil && int(*s.Max) < len(v) {
		v = v[:int(*s.Max)]
	}
	return v
}

type gen struct {
	t *testing.T
	m *vModel
	// samples override validSamples for one model (the tag operations' resource ARN is a resource of that API).
	samples map[string]string
}

// valid returns a minimal valid JSON value for a shape: required members only.
func (g *gen) valid(name string, depth int) any {
	s := g.m.Shapes[name]
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			return s.Enum[0]
		}
		if s.Pattern != "" {
			v, ok := g.samples[s.Pattern]
			if !ok {
				v, ok = validSamples[s.Pattern]
			}
			if !ok {
				g.t.Fatalf("no valid sample for pattern %q of shape %s", s.Pattern, name)
			}
			return g.fitLen(s, v)
		}
		return g.fitLen(s, "x")
	case "integer", "long":
		if s.Min != nil {
			return int64(*s.Min)
		}
		return int64(1)
	case "float", "double":
		if s.Min != nil {
			return *s.Min
		}
		return 1.0
	case "boolean":
		return false
	case "list":
		n := 0
		if s.Min != nil {
			n = int(*s.Min)
		}
		items := []any{}
		for i := 0; i < n; i++ {
			items = append(items, g.valid(s.Member.Shape, depth+1))
		}
		return items
	case "map":
		return map[string]any{}
	case "structure":
		obj := map[string]any{}
		for _, r := range s.Required {
			obj[r] = g.valid(s.Members[r].Shape, depth+1)
		}
		return obj
	}
	g.t.Fatalf("shape %s: type %s", name, s.Type)
	return nil
}

func (g *gen) fitLen(s *vShape, v string) string {
	for s.Min != nil && len(v) < int(*s.Min) {
		v += v[len(v)-1:]
		if v == "" {
			v = "x"
		}
	}
	if s.Max != nil && len(v) > int(*s.Max) {
		v = v[:int(*s.Max)]
	}
	return v
}

type violation struct {
	what  string
	value any // nil: omit the member
}

// violations lists the ways a member of shape name can break its constraints.
func (g *gen) violations(name string, required bool) []violation {
	s := g.m.Shapes[name]
	var vs []violation
	if required {
		vs = append(vs, violation{"missing", nil})
	}
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			vs = append(vs, violation{"not in enum", "NOT_AN_ENUM_VALUE"})
			return vs
		}
		base, _ := g.valid(name, 0).(string)
		if s.Min != nil && *s.Min > 0 {
			vs = append(vs, violation{"too short", strings.Repeat("a", int(*s.Min)-1)})
		}
		if s.Max != nil {
			long := base
			if long == "" {
				long = "a"
			}
			for len(long) <= int(*s.Max) {
				long += long
			}
			vs = append(vs, violation{"too long", long})
		}
		if s.Pattern != "" {
			re := regexp.MustCompile("^(?:" + s.Pattern + ")$")
			if bad := invalidForPattern(s); !re.MatchString(bad) && (s.Min == nil || len(bad) >= int(*s.Min)) {
				vs = append(vs, violation{"pattern", bad})
			}
		}
	case "integer", "long":
		if s.Min != nil {
			vs = append(vs, violation{"below minimum", int64(*s.Min) - 1})
		}
		if s.Max != nil {
			vs = append(vs, violation{"above maximum", int64(*s.Max) + 1})
		}
	case "float", "double":
		if s.Min != nil {
			vs = append(vs, violation{"below minimum", *s.Min - 1})
		}
		if s.Max != nil {
			vs = append(vs, violation{"above maximum", *s.Max + 1})
		}
	case "list":
		if s.Min != nil && *s.Min > 0 {
			vs = append(vs, violation{"too few items", []any{}})
		}
		if s.Max != nil {
			items := []any{}
			for i := 0; i <= int(*s.Max); i++ {
				items = append(items, g.valid(s.Member.Shape, 1))
			}
			vs = append(vs, violation{"too many items", items})
		}
		for _, iv := range g.violations(s.Member.Shape, false) {
			if iv.value != nil {
				vs = append(vs, violation{"item " + iv.what, []any{iv.value}})
			}
		}
	case "map":
		if s.Max != nil {
			m := map[string]any{}
			for i := 0; i <= int(*s.Max); i++ {
				m[fmt.Sprintf("k%d", i)] = g.valid(s.Value.Shape, 1)
			}
			vs = append(vs, violation{"too many entries", m})
		}
		for _, kv := range g.violations(s.Key.Shape, false) {
			if k, ok := kv.value.(string); ok {
				vs = append(vs, violation{"key " + kv.what, map[string]any{k: g.valid(s.Value.Shape, 1)}})
			}
		}
		for _, vv := range g.violations(s.Value.Shape, false) {
			if vv.value != nil {
				vs = append(vs, violation{"value " + vv.what, map[string]any{"key": vv.value}})
			}
		}
	case "structure":
		// A nested structure: each of its own members' violations, inside a valid parent.
		for _, mn := range sortedKeys(s.Members) {
			mm := s.Members[mn]
			for _, nv := range g.violations(mm.Shape, contains(s.Required, mn)) {
				obj := g.valid(name, 1).(map[string]any)
				if nv.value == nil {
					delete(obj, mn)
				} else {
					obj[mn] = nv.value
				}
				vs = append(vs, violation{mn + " " + nv.what, obj})
			}
		}
	}
	return vs
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// send makes the request for an operation from a JSON object of its input members, placing URI and query
// members where the model binds them. Open auth: no signature needed.
func send(t *testing.T, s *Server, m *vModel, op string, input map[string]any) (int, string, string) {
	t.Helper()
	o := m.Operations[op]
	in := m.Shapes[o.Input.Shape]
	path := o.HTTP.RequestURI
	q := url.Values{}
	body := map[string]any{}
	for k, v := range input {
		mm := in.Members[k]
		switch mm.Location {
		case "uri":
			path = strings.Replace(path, "{"+mm.LocationName+"}", url.PathEscape(fmt.Sprint(v)), 1)
		case "querystring":
			for _, x := range v.([]any) {
				q.Add(mm.LocationName, fmt.Sprint(x))
			}
		default:
			body[k] = v
		}
	}
	if strings.Contains(path, "{") { // a required URI member left out: send an empty segment
		path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "")
	}
	raw, _ := json.Marshal(body)
	u := s.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(o.HTTP.Method, u, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(b)
}

func TestValidationFromModel(t *testing.T) {
	t.Parallel()
	validateFromModel(t, "ivs-2020-07-14.json", nil, 150, "ListChannels", `"channels":[]`)
}

// TestValidationFromModelRealtime is TestValidationFromModel for the real-time API (ivs-realtime), served on the
// same port.
func TestValidationFromModelRealtime(t *testing.T) {
	t.Parallel()
	validateFromModel(t, "ivs-realtime-2020-07-14.json", map[string]string{
		"arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+": "arn:aws:ivs:us-west-2:111111111111:stage/abcdABCD1234",
	}, 200, "ListStages", `"stages":[]`)
}

// validateFromModel sends, for every constrained input member of every operation of the model, a request valid
// but for that member, and expects 400 ValidationException naming it; then checks with listOp that nothing was
// created.
func validateFromModel(t *testing.T, model string, samples map[string]string, minCases int, listOp, emptyList string) {
	m := loadModel(t, model)
	for p, v := range validSamples {
		if !regexp.MustCompile("^(?:"+p+")$").MatchString(v) && !strings.Contains(p, "[a-z-]/") {
			t.Fatalf("sample %q does not match pattern %q", v, p)
		}
	}
	s := Start(t, Options{})
	g := &gen{t: t, m: m, samples: samples}
	cases := 0
	for _, op := range sortedKeys(m.Operations) {
		o := m.Operations[op]
		if o.Input == nil {
			continue
		}
		in := m.Shapes[o.Input.Shape]
		for _, mn := range sortedKeys(in.Members) {
			mm := in.Members[mn]
			for _, v := range g.violations(mm.Shape, contains(in.Required, mn)) {
				input := g.valid(o.Input.Shape, 0).(map[string]any)
				if v.value == nil {
					delete(input, mn)
				} else {
					input[mn] = v.value
				}
				name := op + "/" + mn + "/" + v.what
				t.Run(name, func(t *testing.T) {
					status, code, body := send(t, s, m, op, input)
					if status != 400 || code != "ValidationException" {
						t.Fatalf("got %d %s %s, want 400 ValidationException", status, code, body)
					}
					var e struct{ ExceptionMessage, Message string }
					json.Unmarshal([]byte(body), &e)
					if !strings.Contains(e.ExceptionMessage, "'"+mn) || e.Message != e.ExceptionMessage {
						t.Fatalf("error does not name %q: %s", mn, body)
					}
				})
				cases++
			}
		}
	}
	if cases < minCases {
		t.Fatalf("only %d validation cases generated from the model; expected the model's constraints to give more", cases)
	}
	t.Logf("%d validation cases from the model", cases)
	// Nothing was created by any refused request.
	status, _, body := send(t, s, m, listOp, map[string]any{})
	if status != 200 || !strings.Contains(body, emptyList) {
		t.Fatalf("a refused request changed state: %s = %d %s", listOp, status, body)
	}
}

// TestMalformedRequests: bodies that are not JSON, or have members of the wrong type, are 400s, never 500s.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	for _, tc := range []struct{ op, body, want string }{
		{"CreateChannel", `{`, "not valid JSON"},
		{"CreateChannel", `[]`, "JSON object"},
		{"CreateChannel", `"x"`, "JSON object"},
		{"CreateChannel", `{"name": 5}`, "'name'"},
		{"CreateChannel", `{"authorized": "yes"}`, "'authorized'"},
		{"CreateChannel", `{"tags": ["a"]}`, "'tags'"},
		{"CreateChannel", `{"multitrackInputConfiguration": 1}`, "'multitrackInputConfiguration'"},
		{"CreateChannel", `{} {}`, "after the top-level object"},
		{"ListChannels", `{"maxResults": 1.5}`, "'maxResults'"},
		{"ListChannels", `{"maxResults": 1e400}`, "maxResults"},
		{"GetChannel", `{"arn": null}`, "'arn'"},
		{"GetChannel", "\x00\xff", "not valid JSON"},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/"+tc.op, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "ValidationException" || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %q: got %d %s %s, want 400 ValidationException mentioning %q", tc.op, tc.body, resp.StatusCode,
				resp.Header.Get("x-amzn-ErrorType"), b, tc.want)
		}
		if resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s %q: no x-amzn-RequestId", tc.op, tc.body)
		}
	}
	// An unknown operation is a 404 with an error type, not a 500.
	resp, err := http.Post(s.URL+"/NoSuchOperation", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") == "" {
		t.Errorf("unknown operation: %d %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}
