package spec

import (
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// DecodeYAML checks that an entry of generates is a mapping with one key and
// keeps it; the settings are decoded once the kinds are known (decodeGenerators).
func (g *Generator) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	g.Loc = Loc{Pos: strictyaml.At(n), Keys: map[string]Pos{}}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		g.node = n // reported with the kinds' names
		return
	}
	g.Kind = n.Content[0].Value
	g.Loc.Keys[g.Kind] = strictyaml.At(n.Content[0])
	g.node = n
}

// decodeGenerators decodes each entry's settings into its kind's type.
func decodeGenerators(d *strictyaml.Decoder, f *File, kinds Kinds) {
	for i := range f.Generates {
		g := &f.Generates[i]
		n := g.node
		if n == nil {
			continue
		}
		if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
			d.Errorf(n, "each entry of generates is a mapping with exactly one generator (%s), got %s", strings.Join(kinds.Keys(), ", "), describeEntry(n))
			continue
		}
		k, v := n.Content[0], n.Content[1]
		kind, ok := kinds.find(k.Value)
		if !ok {
			d.UnknownKey(k, kinds.Keys())
			continue
		}
		if strictyaml.IsNull(v) {
			d.Errorf(v, "generator %q needs its settings, at least clusters: [...]", k.Value)
			continue
		}
		g.Spec = kind.New()
		d.Decode(v, strictyaml.Value(g.Spec))
	}
}

func describeEntry(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return strictyaml.Describe(n)
	}
	var ks []string
	for i := 0; i < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	if len(ks) == 0 {
		return "an empty mapping"
	}
	return "keys " + strings.Join(ks, ", ")
}

// Load reads, decodes, defaults and validates a spec file whose generators are
// kinds (internal/generate's registry). The error, if any, is Errors: every
// problem of the file.
func Load(path string, kinds Kinds) (*File, error) {
	// Through the app directory's root: a spec that is a link to a file outside
	// it (a token, ~/.git-credentials) is refused unread.
	data, err := strictyaml.ReadFileIn(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return nil, err
	}
	return Parse(path, data, kinds)
}

// Parse is Load for data already read; path is used in messages and defaults
// (the app name is the name of its directory).
func Parse(path string, data []byte, kinds Kinds) (*File, error) {
	root, errs := strictyaml.Parse(path, data)
	if len(errs) == 1 && errs[0].Msg == strictyaml.ErrEmpty {
		errs[0].Msg += "; it needs at least generates: (see kube generate --schema)"
	}
	if errs != nil {
		return nil, errs
	}
	d := strictyaml.NewDocumentDecoder(path, root)
	// A document that is not a mapping has no key positions: checks point at it.
	f := &File{Path: path, Loc: Loc{Pos: strictyaml.At(root)}}
	d.Decode(root, strictyaml.Value(f))
	decodeGenerators(d, f, kinds)
	// Validate even a partly decoded file, so that one run reports everything, but
	// drop what only repeats a decoding error on the same line.
	decodeErrs := d.Reset()
	applyDefaults(f, path)
	validate(d, f, filepath.Dir(path), kinds)
	if errs := strictyaml.Merge(decodeErrs, d.Errs()); errs != nil {
		return nil, strictyaml.Merge(errs, f.Warnings)
	}
	return f, nil
}
