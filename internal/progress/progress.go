// Package progress shows long-running steps: one line updated in place on a
// terminal, plain lines (with a periodic heartbeat) in CI logs.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Reporter writes step progress to Out. The zero value of Interval means 30 s.
type Reporter struct {
	Out io.Writer
	// TTY redraws the current line every second instead of appending lines.
	TTY bool
	// Interval between "still running" lines when not on a terminal.
	Interval time.Duration

	mu sync.Mutex
}

// Printf writes one plain line.
func (r *Reporter) Printf(format string, args ...any) {
	if r == nil || r.Out == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, format+"\n", args...)
}

// Step runs fn while showing msg and the elapsed time, then a final line with the
// outcome and duration. It returns fn's error.
func (r *Reporter) Step(msg string, fn func() error) error {
	if r == nil || r.Out == nil {
		return fn()
	}
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tick := time.Second
	if !r.TTY {
		tick = r.Interval
		if tick == 0 {
			tick = 30 * time.Second
		}
		r.Printf("- %s ...", msg)
	} else {
		r.redraw("- %s ...", msg)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				el := Round(time.Since(start))
				if r.TTY {
					r.redraw("- %s ... %s", msg, el)
				} else {
					r.Printf("  %s: still running after %s", msg, el)
				}
			}
		}
	}()
	err := fn()
	close(stop)
	wg.Wait()
	mark := "ok"
	if err != nil {
		mark = "FAILED"
	}
	line := fmt.Sprintf("- %s: %s (%s)", msg, mark, Round(time.Since(start)))
	if r.TTY {
		r.redraw("%s\n", line)
	} else {
		r.Printf("%s", line)
	}
	return err
}

func (r *Reporter) redraw(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, "\r\033[K"+format, args...)
}

// Round shortens a duration for people: whole seconds, or tenths below 10 s.
func Round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
