package forkconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// RunOptions are kube fork connect's: a session, and the command that
// stands in for the workload.
type RunOptions struct {
	Options
	// Forwards are local ports to cluster addresses.
	Forwards []Forward
	// Command runs with the workload's environment and the proxy; without
	// one, the session lasts until ctx ends.
	Command []string
	// EnvFile, if set, receives the environment as KEY=VALUE lines (for an
	// IDE's run configuration), without the values that come from Secrets.
	EnvFile   string
	NoSecrets bool
	// Keep leaves the workload local (and the fork) when the session ends.
	Keep           bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Connected hears where the fork's traffic goes once the session is up.
	Connected func(Connected)
}

// Connected is a session that is up.
type Connected struct {
	Fork, Namespace, Workload string
	// Ports maps the copy's container ports to local ports.
	Ports map[int32]int32
	// URL is the fork's preview URL, if its profile has one.
	URL string
	// HTTPProxy and SOCKSProxy are the local proxies into the cluster.
	HTTPProxy, SOCKSProxy string
	Forwards              []Forward
	// Missing are the environment variables that could not be set, and why.
	Missing []string
}

// Run connects, runs the command (or waits for ctx) and ends the session.
// code is the command's exit code.
func Run(ctx context.Context, o RunOptions) (code int, err error) {
	s, err := Start(ctx, o.Options)
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cerr := s.Close(cctx, o.Keep); cerr != nil && err == nil {
			err = fmt.Errorf("ending the session: %w", cerr)
		}
	}()
	proxy, err := s.StartProxy(forkv1.DefaultHeader)
	if err != nil {
		return 0, err
	}
	defer proxy.Close()
	stopForwards, err := s.StartForwards(o.Forwards)
	if err != nil {
		return 0, err
	}
	defer stopForwards()
	env := s.Environment(ctx, o.NoSecrets)
	env.Vars = append(env.Vars, proxyEnv(proxy, o.Namespace, s.Fork().ID())...)
	if o.EnvFile != "" {
		if err := writeEnvFile(o.EnvFile, env); err != nil {
			return 0, err
		}
	}
	if o.Connected != nil {
		o.Connected(Connected{Fork: s.Fork().ID(), Namespace: o.Namespace, Workload: o.Workload, Ports: s.Ports(), URL: s.Fork().Status.URL,
			HTTPProxy: proxy.HTTP, SOCKSProxy: proxy.SOCKS, Forwards: o.Forwards, Missing: env.Missing})
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(sctx) }()
	if len(o.Command) == 0 {
		select {
		case <-ctx.Done():
			return 0, nil
		case err := <-runErr:
			return 0, err
		}
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = append(os.Environ(), env.Vars...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", o.Command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return exit.ExitCode(), nil
			}
			return 0, err
		case <-ctx.Done():
			interrupt(cmd) // the terminal's Ctrl-C has reached it already; a SIGTERM may not have
			ctx = context.Background()
		case err := <-runErr:
			if err != nil {
				interrupt(cmd)
				<-done
				return 1, err
			}
		}
	}
}

func interrupt(cmd *exec.Cmd) {
	if runtime.GOOS == "windows" {
		_ = cmd.Process.Kill()
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
}

// proxyEnv points the process's HTTP clients at the proxy, and tells
// servicex the fork's identifier for calls it starts by itself.
func proxyEnv(p *Proxy, namespace, id string) []string {
	httpProxy := "http://" + p.HTTP
	return []string{
		"HTTP_PROXY=" + httpProxy, "http_proxy=" + httpProxy,
		"HTTPS_PROXY=" + httpProxy, "https_proxy=" + httpProxy,
		"ALL_PROXY=socks5://" + p.SOCKS, "all_proxy=socks5://" + p.SOCKS,
		"NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1",
		"KUBE_FORK_IDENTIFIER=" + id,
		"KUBE_FORK_NAMESPACE=" + namespace,
	}
}

// writeEnvFile writes the environment for an IDE, leaving out what comes
// from Secrets: kube never stores a secret value. A variable left out is a
// comment naming it.
func writeEnvFile(path string, env *Environment) error {
	var b strings.Builder
	for _, kv := range env.Vars {
		k, _, _ := strings.Cut(kv, "=")
		if env.FromSecrets[k] {
			fmt.Fprintf(&b, "# %s comes from a Secret: not written here (run your process under kube fork connect -- COMMAND to get it)\n", k)
			continue
		}
		b.WriteString(kv + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
