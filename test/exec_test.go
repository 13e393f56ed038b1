package test

import (
	"errors"
	"os/exec"
)

func execCommand(e *env, args ...string) *exec.Cmd {
	cmd := exec.Command(bins.Daemon, args...)
	cmd.Env = e.environ()
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
