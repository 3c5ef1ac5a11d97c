package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// outDir is kube infra plan's output directory, written beside the real one
// and renamed into place at the end: CI never uploads a half-written plan, and
// a plan that fails cannot leave an older run's plan behind to be applied.
type outDir struct {
	final, tmp string
	done       bool
}

func newOutDir(final string) (*outDir, error) {
	if final == "" {
		return nil, fmt.Errorf("no output directory")
	}
	// Absolute: OpenTofu runs in the root's directory, and writes the plan
	// file where it is told, relative to that.
	final, err := filepath.Abs(final)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(final)), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(final)), "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return nil, err
	}
	return &outDir{final: final, tmp: tmp}, nil
}

func (d *outDir) path(name string) string { return filepath.Join(d.tmp, name) }

func (d *outDir) write(name string, data []byte) error {
	return os.WriteFile(d.path(name), data, 0o644)
}

func (d *outDir) writeJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return d.write(name, append(data, '\n'))
}

// finish writes the summary, the comment and the metadata (nil: none, the
// plan cannot be applied), then puts the directory in place.
func (d *outDir) finish(o PlanOptions, s *Summary, text string, md *Metadata) error {
	if err := d.writeJSON(SummaryFile, s); err != nil {
		return err
	}
	if err := d.write(CommentFile, []byte(Comment(s, text, o.LogURL))); err != nil {
		return err
	}
	if md != nil {
		if err := d.writeJSON(MetadataFile, md); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.final); err != nil {
		return err
	}
	if err := os.Rename(d.tmp, d.final); err != nil {
		return err
	}
	d.done = true
	return nil
}

// discard removes what an unfinished run wrote.
func (d *outDir) discard() {
	if !d.done {
		os.RemoveAll(d.tmp)
	}
}
