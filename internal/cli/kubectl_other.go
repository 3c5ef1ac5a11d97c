//go:build !linux

package cli

import "syscall"

// childAttributes: only Linux can tie kubectl's life to kube's.
func childAttributes() *syscall.SysProcAttr { return nil }
