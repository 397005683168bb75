//go:build !unix

package chaos

import (
	"errors"
	"os"
)

var errNoSignals = errors.New("pausing a process needs a Unix system")

func pauseProcess(*os.Process) error       { return errNoSignals }
func resumeProcess(*os.Process) error      { return errNoSignals }
func terminateProcess(p *os.Process) error { return p.Kill() }
