//go:build unix

package transcode

import (
	"os/exec"
	"syscall"
)

// detach puts ffmpeg in its own process group: a Ctrl-C at the server's terminal is the server's to handle (it
// closes its sessions), not a crash of every transcoder to report and restart.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
