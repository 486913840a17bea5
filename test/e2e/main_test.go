package e2e

import (
	"os"
	"testing"
)

// TestMain removes the server binary the tests built (a fresh one per test process, tens of MB in the temp dir).
func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}
