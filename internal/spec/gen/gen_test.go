package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates every generated package from its committed model and fails when the
// result differs from the committed code: `go generate ./internal/spec/...` must reproduce what is in the repo.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	for _, tc := range []struct{ model, overrides, pkg, out string }{
		{"../models/ivs-2020-07-14.json", "../models/ivs-2020-07-14.overrides.json", "ivsapi", "../ivsapi/zz_generated.go"},
		{"../models/ivs-realtime-2020-07-14.json", "../models/ivs-realtime-2020-07-14.overrides.json", "realtimeapi", "../realtimeapi/zz_generated.go"},
	} {
		tmp := filepath.Join(t.TempDir(), "gen.go")
		if err := generate(tc.model, tc.overrides, tc.pkg, tmp); err != nil {
			t.Fatalf("%s: %v", tc.pkg, err)
		}
		got, _ := os.ReadFile(tmp)
		want, err := os.ReadFile(tc.out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/spec/...", tc.out)
		}
	}
}

// TestStripDropsDocumentation: the import step keeps shapes and bindings and removes documentation text.
func TestStripDropsDocumentation(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.json")
	os.WriteFile(src, []byte(`{"documentation":"x","shapes":{"A":{"type":"string","documentation":"doc","max":3}},
		"operations":{"Op":{"documentation":"d","http":{"method":"POST","requestUri":"/Op"}}}}`), 0o644)
	dst := filepath.Join(dir, "out.json")
	if err := strip(src, dst); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(dst)
	if bytes.Contains(out, []byte("documentation")) || !bytes.Contains(out, []byte(`"max": 3`)) || !bytes.Contains(out, []byte(`"/Op"`)) {
		t.Fatalf("strip output: %s", out)
	}
}

// TestRefusesUnsupportedFeatures: the generator stops on model features it does not implement.
func TestRefusesUnsupportedFeatures(t *testing.T) {
	dir := t.TempDir()
	for name, model := range map[string]string{
		"blob":    `{"metadata":{},"operations":{},"shapes":{"B":{"type":"blob"}}}`,
		"union":   `{"metadata":{},"operations":{},"shapes":{"U":{"type":"structure","union":true,"members":{}}}}`,
		"payload": `{"metadata":{},"operations":{},"shapes":{"P":{"type":"structure","payload":"x","members":{}}}}`,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(model), 0o644)
		if err := generate(p, "", "x", filepath.Join(dir, name+".go")); err == nil {
			t.Errorf("%s: generator accepted an unsupported feature", name)
		}
	}
}
