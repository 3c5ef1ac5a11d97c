//go:build !windows

package cli

import (
	"errors"
	"os"
	"syscall"
)

// forwardable tells whether a signal kube receives goes on to kubectl: every
// catchable one (SIGQUIT, SIGHUP, SIGUSR1, ... not only Ctrl-C), except the Go
// runtime's own SIGURG and SIGCHLD, which only tells kube about its child.
func forwardable(s os.Signal) bool { return s != syscall.SIGURG && s != syscall.SIGCHLD }

// processGone tells whether no process has this id any more (a kube killed with
// SIGKILL leaves its temporary kubeconfig; the next run removes it).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
