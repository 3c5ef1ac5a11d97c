package forkconnect

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/kube-idp/kube/internal/tunnel"
)

// Forward is a local port that goes to a cluster address through the agent,
// for clients that ignore proxy variables.
type Forward struct {
	Local  int32  // the port on 127.0.0.1
	Target string // host:port in the cluster
}

// ParseForwards reads --forward [LOCAL_PORT=]HOST:PORT values.
func ParseForwards(specs []string) ([]Forward, error) {
	var out []Forward
	for _, spec := range specs {
		local, target, ok := strings.Cut(spec, "=")
		if !ok {
			local, target = "", spec
		}
		host, port, err := net.SplitHostPort(target)
		p, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || host == "" || perr != nil || p == 0 {
			return nil, fmt.Errorf("--forward %q: want [LOCAL_PORT=]HOST:PORT, e.g. orders:80 or 8081=orders:80", spec)
		}
		f := Forward{Local: int32(p), Target: target}
		if local != "" {
			l, err := strconv.ParseUint(local, 10, 16)
			if err != nil || l == 0 {
				return nil, fmt.Errorf("--forward %q: %q is not a local port", spec, local)
			}
			f.Local = int32(l)
		}
		out = append(out, f)
	}
	return out, nil
}

// StartForwards listens on each forward's local port until the session closes.
func (s *Session) StartForwards(fs []Forward) (func(), error) {
	var ls []net.Listener
	stop := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, f := range fs {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(f.Local))))
		if err != nil {
			stop()
			return nil, fmt.Errorf("--forward %d=%s: %w", f.Local, f.Target, err)
		}
		ls = append(ls, l)
		target := qualify(f.Target, s.o.Namespace)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					up, err := s.dial(target)
					if err != nil {
						c.Close()
						return
					}
					tunnel.Pipe(c, up)
				}()
			}
		}()
	}
	return stop, nil
}
