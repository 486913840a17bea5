package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIDemoScript runs scripts/cli-demo.sh (the aws CLI and boto3, as the README shows them) against a server.
func TestCLIDemoScript(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	cmd := exec.CommandContext(Ctx(t), "bash", filepath.Join(RepoRoot(), "scripts", "cli-demo.sh"), s.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cli-demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"aws CLI: create, get, list, tag, untag, get-stream (offline), delete: ok", "boto3: create, paginate"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("cli-demo.sh output lacks %q:\n%s", want, out)
		}
	}
}
