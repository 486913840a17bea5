package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// strip reads a botocore service model (optionally gzip-compressed), removes its documentation text and writes
// the result as indented JSON with sorted keys, so the copy kept in the repository is small and diffs cleanly when
// a new model version is imported.
func strip(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("strip: %w", err)
	}
	if strings.HasSuffix(src, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("strip: %s: %w", src, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("strip: %s: %w", src, err)
		}
	}
	var m any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("strip: %s: %w", src, err)
	}
	m = dropDocs(m)
	out, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("strip: %w", err)
	}
	return os.WriteFile(dst, append(out, '\n'), 0o644)
}

func dropDocs(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			switch k {
			case "documentation", "documentationUrl", "deprecatedMessage", "examples":
				delete(t, k)
			default:
				t[k] = dropDocs(x)
			}
		}
	case []any:
		for i := range t {
			t[i] = dropDocs(t[i])
		}
	}
	return v
}
