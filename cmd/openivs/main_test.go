package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpVersionAndKeys(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "openivs serve") {
		t.Fatalf("--help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "openivs ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"serve", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-http-addr") || !strings.Contains(out.String(), "OPENIVS_HTTP_ADDR") {
		t.Fatalf("serve --help: %d %q", code, out.String())
	}
	if code := run([]string{"serve", "--auth", "nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--auth") {
		t.Fatalf("serve with a bad flag value: %d %q", code, errb.String())
	}
	// Participant-token keys: the first use creates one; rotate adds a current key; retire removes the old one.
	dir := t.TempDir()
	out.Reset()
	if code := run([]string{"keys", "list", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("keys list: %d %s", code, errb.String())
	}
	first := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out.String()), "*"))
	out.Reset()
	if code := run([]string{"keys", "rotate", "--data-dir", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "new current key") {
		t.Fatalf("keys rotate: %d %q %s", code, out.String(), errb.String())
	}
	if strings.Count(out.String(), "\n") != 3 || !strings.Contains(out.String(), "  "+first) {
		t.Fatalf("after rotate, want the new current key and the old one: %q", out.String())
	}
	out.Reset()
	if code := run([]string{"keys", "retire", first, "--data-dir", dir}, &out, &errb); code != 0 || strings.Contains(out.String(), "  "+first) {
		t.Fatalf("keys retire: %d %q %s", code, out.String(), errb.String())
	}
}
