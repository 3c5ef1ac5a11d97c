package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"

	"github.com/kube-idp/kube/internal/yamlout"
)

// LabelPrefix starts every domain label, so that domain labels sort together
// and never collide with a repository's own labels.
const LabelPrefix = "domain: "

// Label is one GitHub label in the format of github-label-sync
// (Financial-Times/github-label-sync, `--labels FILE`), which reads it as YAML
// or JSON. GitHub limits names to 50 characters and descriptions to 100.
type Label struct {
	Name        string `json:"name"`
	Color       string `json:"color"`
	Description string `json:"description,omitempty"`
}

// Labels returns one label per domain: its title, its colour (or one derived
// from its name, stable across runs) and its problem, shortened to fit.
func (c *Catalog) Labels() []Label {
	var out []Label
	for _, d := range c.Domains {
		color := d.Color
		if color == "" {
			sum := sha256.Sum256([]byte(d.Name))
			color = hex.EncodeToString(sum[:3])
		}
		out = append(out, Label{Name: shorten(LabelPrefix+d.DisplayTitle(), 50), Color: color, Description: shorten(d.Problem, 100)})
	}
	return out
}

// LabelsYAML is Labels as github-label-sync's YAML file.
func (c *Catalog) LabelsYAML() ([]byte, error) {
	return yamlout.Marshal(c.Labels())
}

// shorten cuts s to at most n characters, with an ellipsis when it cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
