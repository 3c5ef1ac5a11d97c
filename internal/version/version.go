// Package version reports the version of the kube binaries.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time by the Makefile (-X .../internal/version.Version=...).
var Version = ""

// String returns the version of this build: the link-time version, else the module
// version or VCS revision recorded by the Go toolchain, else "dev".
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// GoVersion is the Go toolchain that built this binary.
func GoVersion() string { return runtime.Version() }
