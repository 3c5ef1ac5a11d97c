package upgrade

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Files checks the manifests under dir of fsys (an app's kubernetes/<cluster>/,
// read through its repository's os.Root) and places each finding at the
// file:line:column of the object's apiVersion: in multi-document files and
// inside Lists too, as kube's other checks do. shown prefixes file names.
func (d *Data) Files(source, where string, fsys fs.FS, dir, shown string, target Version) ([]Finding, error) {
	var out []Finding
	err := fs.WalkDir(fsys, dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != dir && strings.HasPrefix(e.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		file := filepath.Join(shown, filepath.FromSlash(strings.TrimPrefix(p, dir+"/")))
		dec := yaml.NewDecoder(io.LimitReader(f, 32<<20))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if len(doc.Content) == 0 {
				continue
			}
			out = append(out, d.node(source, where, file, doc.Content[0], target)...)
		}
	})
	return out, err
}

// node checks one object, or each item of a List.
func (d *Data) node(source, where, file string, n *yaml.Node, target Version) []Finding {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	apiVersion, kind := value(n, "apiVersion"), value(n, "kind")
	name, ns := "", ""
	if md := child(n, "metadata"); md != nil {
		name, ns = value(md, "name").Value, value(md, "namespace").Value
	}
	var out []Finding
	if items := child(n, "items"); items != nil && strings.HasSuffix(kind.Value, "List") && items.Kind == yaml.SequenceNode {
		for _, it := range items.Content {
			out = append(out, d.node(source, where, file, it, target)...)
		}
		return out
	}
	if apiVersion.Value == "" || kind.Value == "" {
		return nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion.Value)
	if err != nil {
		return nil
	}
	gvk := gv.WithKind(kind.Value)
	if st, api := d.Check(gvk, target); st != Served {
		f := finding(source, where, short(kind.Value, ns, name), gvk, st, api)
		f.File, f.Line, f.Column = file, apiVersion.Line, apiVersion.Column
		out = append(out, f)
	}
	return out
}

// child is the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// value is child, never nil (an empty scalar when absent).
func value(n *yaml.Node, key string) *yaml.Node {
	if c := child(n, key); c != nil {
		return c
	}
	return &yaml.Node{}
}
