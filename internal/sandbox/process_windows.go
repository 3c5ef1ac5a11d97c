package sandbox

import (
	"context"
	"errors"
)

// The sandbox runs Kubernetes' control plane as local processes with kwok's
// binary runtime, which supports Linux and macOS only.
var errWindows = errors.New("the sandbox needs Linux or macOS (kwok's binary runtime does not run on Windows): use WSL 2, or a cluster of the registry with -c")

func lockFile(context.Context, string) (func(), error) { return nil, errWindows }

func terminate(int)         {}
func kill(int)              {}
func processAlive(int) bool { return false }
func supported() string     { return errWindows.Error() }
