//go:build !unix

package transcode

import "os/exec"

func detach(*exec.Cmd) {}
