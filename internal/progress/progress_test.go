package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// signalling is a buffer that says when a line holding want was written.
type signalling struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (s *signalling) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(string(p), s.want) {
		close(s.seen)
	}
	return s.buf.Write(p)
}

func TestStepInCI(t *testing.T) {
	out := &signalling{want: "still running", seen: make(chan struct{})}
	ticks := make(chan time.Time)
	r := &Reporter{Out: out, ticks: ticks}
	// The step lasts until a tick has been reported: no clock involved.
	err := r.Step("building x", func() error { ticks <- time.Now(); <-out.seen; return nil })
	if err != nil {
		t.Fatal(err)
	}
	got := out.buf.String()
	if !strings.HasPrefix(got, "- building x ...\n") || !strings.Contains(got, "  building x: still running after") ||
		!strings.Contains(got, "- building x: ok (") || strings.Contains(got, "\r") {
		t.Fatalf("output:\n%q", got)
	}
	var plain bytes.Buffer
	r = &Reporter{Out: &plain}
	boom := errors.New("boom")
	if err := r.Step("y", func() error { return boom }); err != boom || !strings.Contains(plain.String(), "- y: FAILED (") {
		t.Fatalf("failed step: %v %q", err, plain.String())
	}
}

func TestStepOnTerminalRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{Out: &out, TTY: true}
	_ = r.Step("z", func() error { return nil })
	if got := out.String(); !strings.HasPrefix(got, "\r\033[K- z ...") || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
		t.Fatalf("output: %q", got)
	}
}

func TestNilReporterIsSilent(t *testing.T) {
	var r *Reporter
	r.Printf("x")
	if err := r.Step("x", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRound(t *testing.T) {
	if Round(1234*time.Millisecond) != 1200*time.Millisecond || Round(12345*time.Millisecond) != 12*time.Second {
		t.Fatal(Round(1234*time.Millisecond), Round(12345*time.Millisecond))
	}
}

func TestBlock(t *testing.T) {
	var out bytes.Buffer
	b := (&Reporter{Out: &out}).NewBlock()
	b.Update([]string{"a: InProgress", "b: InProgress"})
	b.Update([]string{"a: Current", "b: InProgress"})
	if got := out.String(); got != "a: InProgress\nb: InProgress\na: Current\n" {
		t.Fatalf("CI output: %q", got)
	}
	out.Reset()
	b = (&Reporter{Out: &out, TTY: true}).NewBlock()
	b.Update([]string{"a", "b"})
	b.Update([]string{"a2", "b2"})
	if got := out.String(); got != "\r\033[Ka\n\r\033[Kb\n\033[2A\r\033[Ka2\n\r\033[Kb2\n" {
		t.Fatalf("terminal output: %q", got)
	}
}

func TestPhaseKeepsInnerLines(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{Out: &out, TTY: true}
	_ = r.Phase("applying", func() error { r.Printf("  create x"); return nil })
	got := out.String()
	if !strings.HasPrefix(got, "- applying ...\n  create x\n- applying: ok (") || strings.Contains(got, "\r") {
		t.Fatalf("output: %q", got)
	}
}
