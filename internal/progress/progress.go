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
	// ticks replaces the ticker in tests (nil: a time.Ticker of the interval).
	ticks <-chan time.Time

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
		ticks := r.ticks
		if ticks == nil {
			t := time.NewTicker(tick)
			defer t.Stop()
			ticks = t.C
		}
		for {
			select {
			case <-stop:
				return
			case <-ticks:
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

// Block is a group of lines redrawn in place on a terminal (one line per object
// being waited for). Elsewhere Update prints only the lines that changed.
type Block struct {
	r    *Reporter
	last []string
}

// NewBlock starts an empty block below the current output.
func (r *Reporter) NewBlock() *Block { return &Block{r: r} }

// Update shows lines; on a terminal it replaces the block drawn before.
func (b *Block) Update(lines []string) {
	r := b.r
	if r == nil || r.Out == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.TTY {
		for i, l := range lines {
			if i >= len(b.last) || b.last[i] != l {
				fmt.Fprintln(r.Out, l)
			}
		}
		b.last = append(b.last[:0], lines...)
		return
	}
	if len(b.last) > 0 {
		fmt.Fprintf(r.Out, "\033[%dA", len(b.last)) // back to the block's first line
	}
	for _, l := range lines {
		fmt.Fprintf(r.Out, "\r\033[K%s\n", l)
	}
	for i := len(lines); i < len(b.last); i++ {
		fmt.Fprint(r.Out, "\r\033[K\n")
	}
	b.last = append(b.last[:0], lines...)
}

// Phase is Step for work that prints its own lines: the start and the outcome
// are lines of their own, nothing is redrawn.
func (r *Reporter) Phase(msg string, fn func() error) error {
	start := time.Now()
	r.Printf("- %s ...", msg)
	err := fn()
	mark := "ok"
	if err != nil {
		mark = "FAILED"
	}
	r.Printf("- %s: %s (%s)", msg, mark, Round(time.Since(start)))
	return err
}
