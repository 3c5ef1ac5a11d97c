// Package e2e runs kube against the real local sandbox cluster.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kube-idp/kube/internal/testcluster"
)

// kubeBin and controllerBin are the binaries under test, built once by TestMain.
var kubeBin, controllerBin string

func TestMain(m *testing.M) {
	if os.Getenv(helperChild) != "" {
		forkChild()
	}
	dir, err := os.MkdirTemp("", "kube-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kubeBin, controllerBin = filepath.Join(dir, "kube"), filepath.Join(dir, "kube-controller")
	build := exec.Command("go", "build", "-o", dir+"/", "../../cmd/kube", "../../cmd/kube-controller")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kube and kube-controller:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testcluster.Main(m)
}

// result of one kube invocation.
type result struct {
	code           int
	stdout, stderr string
}

// kube runs the binary with extra environment variables (KEY=VALUE).
func kube(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(kubeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kube %v: %v", args, err)
	}
	return r
}
