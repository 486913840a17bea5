package sqlite

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/openivs/openivs/internal/store"
)

func TestFastJSON(t *testing.T) {
	for _, tags := range []map[string]string{
		{}, {"a": "b"}, {"": ""}, {"k": "v", "env": "prod", "x": ""},
		{"quote": `"`, "backslash": `\`, "html": "<a&b>", "nl": "a\nb", "uni": "é ✓ 日本", "emoji": "😀"},
		{"sep": `","`, "colon": `":"`, "brace": "}{"},
	} {
		b, err := json.Marshal(tags)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTags(string(b))
		if err != nil || !maps.Equal(got, tags) || got == nil {
			t.Errorf("decodeTags(%s) = %q, %v; want %q", b, got, err, tags)
		}
	}
	for _, refs := range [][]string{
		{}, {"a"}, {""}, {"arn:aws:ivs:us-west-2:111111111111:channel/x", "b", "b"}, {`"`, `\`, "<&>", `","`, "]["},
	} {
		b, err := json.Marshal(refs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRefs(string(b))
		if err != nil || !slices.Equal(got, refs) {
			t.Errorf("decodeRefs(%s) = %q, %v; want %q", b, got, err, refs)
		}
	}
	// Input encoding/json would not write still decodes as encoding/json decodes it, or fails.
	for _, s := range []string{`{ "a" : "b" }`, `{"a":"b","a":"c"}`, `{"a":"b"`, `{"a":1}`, `{"a":"b"}x`, `{`, `[`} {
		var want map[string]string
		werr := json.Unmarshal([]byte(s), &want)
		got, err := decodeTags(s)
		if (err != nil) != (werr != nil) || (err == nil && !maps.Equal(got, want)) {
			t.Errorf("decodeTags(%s) = %q, %v; encoding/json: %q, %v", s, got, err, want, werr)
		}
	}
	for _, s := range []string{`[ "a" ]`, `["a",]`, `["a"`, `[1]`, `["a"]x`, `[`, `]`} {
		var want []string
		werr := json.Unmarshal([]byte(s), &want)
		got, err := decodeRefs(s)
		if (err != nil) != (werr != nil) || (err == nil && !slices.Equal(got, want)) {
			t.Errorf("decodeRefs(%s) = %q, %v; encoding/json: %q, %v", s, got, err, want, werr)
		}
	}
}

// FuzzTags checks that whatever tags encode writes, decodeTags reads back exactly.
func FuzzTags(f *testing.F) {
	f.Add("k", "v", "k2", "v2")
	f.Add(`"`, `\u0000`, "\x00", "é")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		tags := map[string]string{k1: v1, k2: v2}
		refs := []string{k1, v1, k2, v2}
		in := newResource(tags, refs)
		rv, tv, err := encode(in)
		if err != nil {
			return // invalid UTF-8 is refused
		}
		gotTags, err := decodeTags(tv.(string))
		if err != nil || !maps.Equal(gotTags, tags) {
			t.Fatalf("tags %q -> %s -> %q, %v", tags, tv, gotTags, err)
		}
		gotRefs, err := decodeRefs(rv.(string))
		if err != nil || !slices.Equal(gotRefs, refs) {
			t.Fatalf("refs %q -> %s -> %q, %v", refs, rv, gotRefs, err)
		}
	})
}

func newResource(tags map[string]string, refs []string) *store.Resource {
	return &store.Resource{ARN: "arn:x", Tags: tags, Refs: refs}
}

func TestInvalidUTF8Refused(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	for _, r := range []*store.Resource{newResource(map[string]string{"k": "\xff"}, nil), newResource(nil, []string{"\xfe"})} {
		if err := insert(ctx, s, r); err == nil {
			t.Errorf("Insert with invalid UTF-8 (tags %q, refs %q) succeeded", r.Tags, r.Refs)
		}
	}
}
