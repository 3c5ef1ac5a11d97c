package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kinds lists the generator keys in the order they are documented.
func Kinds() []string {
	fields, _ := structFields(reflectValue(&Generator{}).Type())
	return keys(fields)
}

func (g *Generator) decodeYAML(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		d.errorf(n, "each entry of generates is a mapping with exactly one generator (%s), got %s", strings.Join(Kinds(), ", "), describeEntry(n))
		return
	}
	d.decodeStruct(n, reflectValue(g))
	k, v := n.Content[0], n.Content[1]
	if isNull(v) {
		d.errorf(v, "generator %q needs its settings, at least clusters: [...]", k.Value)
	}
}

func describeEntry(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return describe(n)
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
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load for data already read; path is used in messages and defaults
// (the app name is the name of its directory).
func Parse(path string, data []byte) (*File, error) {
	d := &decoder{file: path}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: "the file is empty; it needs at least generates: (see kube generate --schema)"}}
	} else if err != nil {
		return nil, Errors{syntaxError(path, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: path, Pos: Pos{extra.Line, extra.Column}, Msg: "a second YAML document; kube-generate.yaml holds one"}}
	}
	f := &File{Path: path}
	d.decode(doc.Content[0], reflectValue(f))
	// Validate even a partly decoded file, so that one run reports everything, but
	// drop what only repeats a decoding error on the same line.
	decodeErrs := d.errs
	d.errs = nil
	applyDefaults(f, path)
	validate(d, f, filepath.Dir(path))
	errs := decodeErrs
	for _, e := range d.errs {
		if !slices.ContainsFunc(decodeErrs, func(de Error) bool { return de.Pos.Line == e.Pos.Line }) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			a, b := errs[i].Pos, errs[j].Pos
			return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
		})
		return nil, errs
	}
	return f, nil
}

// syntaxError turns a YAML parser error ("yaml: line 3: ...") into an Error.
func syntaxError(path string, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return Error{File: path, Pos: Pos{line, 1}, Msg: "invalid YAML: " + msg}
}
