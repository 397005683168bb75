package chaos

import "syscall"

// sysProcAttr makes a node die with the harness: a harness killed by a test
// timeout must not leave nodes running on a shared machine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
