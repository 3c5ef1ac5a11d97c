package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/yamlout"
)

// IOStreams are injected so that every command runs in tests without a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY is true when ErrOut is a terminal: progress redraws lines in place.
	ErrTTY bool
	// InTTY is true when In is a terminal: commands may ask for confirmation.
	InTTY bool
	// OutTTY is true when Out is a terminal: diffs are colored, tables aligned
	// and fitted to Width.
	OutTTY bool
	// Width of the terminal Out shows on (0: unknown or not a terminal).
	Width int
	// Getenv reads the environment (NO_COLOR, CLICOLOR_FORCE, TERM); nil is os.Getenv.
	Getenv func(string) string
}

// SystemStreams are the process's standard streams.
func SystemStreams() *IOStreams {
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
	if s.OutTTY {
		s.Width, _, _ = term.GetSize(int(os.Stdout.Fd()))
	}
	return s
}

func (s *IOStreams) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

// Color tells whether output is colored: on a terminal, unless NO_COLOR is set
// or TERM is dumb; and always when CLICOLOR_FORCE is set (not "0").
func (s *IOStreams) Color() bool {
	if f := s.getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	return s.OutTTY && s.getenv("NO_COLOR") == "" && s.getenv("TERM") != "dumb"
}

// Progress reports long steps on the error stream, keeping stdout for results;
// it redraws lines in place only on a terminal that is not dumb.
func (s *IOStreams) Progress() *progress.Reporter {
	return &progress.Reporter{Out: s.ErrOut, TTY: s.ErrTTY && s.getenv("TERM") != "dumb"}
}

// Diff colors a unified diff when output is colored: additions green, removals red.
func (s *IOStreams) Diff(d string) string {
	if !s.Color() || d == "" {
		return d
	}
	lines := strings.SplitAfter(d, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(trimmed, "+++"), strings.HasPrefix(trimmed, "---"):
			lines[i] = "\033[1m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "+"):
			lines[i] = "\033[32m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "-"):
			lines[i] = "\033[31m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "@@"):
			lines[i] = "\033[36m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		}
	}
	return strings.Join(lines, "")
}

// Output formats of -o.
const (
	outputText = "text"
	outputJSON = "json"
	outputYAML = "yaml"
)

// structured writes v as JSON or YAML for -o json|yaml, and tells whether it did
// (with -o text the caller prints its own text).
func (s *IOStreams) structured(output string, v any) (bool, error) {
	switch output {
	case outputJSON:
		return true, writeJSON(s.Out, v)
	case outputYAML:
		data, err := yamlout.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = s.Out.Write(data)
		return true, err
	}
	return false, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table prints rows: aligned columns on a terminal, the last one cut to the
// terminal's width; tab-separated when piped, for cut and awk.
type table struct {
	s    *IOStreams
	rows [][]string
}

func (s *IOStreams) newTable(header ...string) *table {
	return &table{s: s, rows: [][]string{header}}
}

// row adds a row. Cells often hold what a cluster or a repository says (a
// revision's cause, an annotation): control characters are shown escaped, never
// sent to the terminal.
func (t *table) row(cols ...string) {
	for i, c := range cols {
		cols[i] = escapeControl(c)
	}
	t.rows = append(t.rows, cols)
}

// escapeControl writes control characters (ESC and the like) as Go escapes.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

func (t *table) print() error {
	if !t.s.OutTTY {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(t.s.Out, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	// Fit the last column into the terminal: the others keep their width.
	widths := make([]int, 0)
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	used := 0
	for i := 0; i+1 < len(widths); i++ {
		used += widths[i] + 2
	}
	w := tabwriter.NewWriter(t.s.Out, 0, 4, 2, ' ', 0)
	for _, r := range t.rows {
		if n := len(r); n > 0 && t.s.Width > 0 {
			if room := t.s.Width - used; room > 3 && len([]rune(r[n-1])) > room {
				r[n-1] = string([]rune(r[n-1])[:room-1]) + "…"
			}
		}
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}
