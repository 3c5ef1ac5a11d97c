package cli

import "syscall"

// childAttributes make the kernel kill kubectl if kube dies without a chance to
// stop it (SIGKILL), so that no kubectl keeps running with kube's credentials.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
