package spec

import (
	"path/filepath"
	"strings"

	"github.com/kube-idp/kube/internal/strictyaml"

	"go.yaml.in/yaml/v3"
)

// Kinds lists the generator keys in the order they are documented.
func Kinds() []string {
	fields, _ := strictyaml.StructFields(strictyaml.Value(&Generator{}).Type())
	return strictyaml.Keys(fields)
}

func (g *Generator) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		d.Errorf(n, "each entry of generates is a mapping with exactly one generator (%s), got %s", strings.Join(Kinds(), ", "), describeEntry(n))
		return
	}
	d.DecodeStruct(n, strictyaml.Value(g))
	k, v := n.Content[0], n.Content[1]
	if strictyaml.IsNull(v) {
		d.Errorf(v, "generator %q needs its settings, at least clusters: [...]", k.Value)
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

// Load reads, decodes, defaults and validates a spec file. The error, if any, is
// Errors: every problem of the file.
func Load(path string) (*File, error) {
	data, err := strictyaml.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load for data already read; path is used in messages and defaults
// (the app name is the name of its directory).
func Parse(path string, data []byte) (*File, error) {
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
	// Validate even a partly decoded file, so that one run reports everything, but
	// drop what only repeats a decoding error on the same line.
	decodeErrs := d.Reset()
	applyDefaults(f, path)
	validate(d, f, filepath.Dir(path))
	if errs := strictyaml.Merge(decodeErrs, d.Errs()); errs != nil {
		return nil, errs
	}
	return f, nil
}
