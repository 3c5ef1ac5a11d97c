package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a place in the spec file.
type Pos struct {
	Line, Column int
}

// Loc records where a decoded struct and each of its keys are in the file, so that
// checks after decoding can point at the right line. Spec structs embed it as a
// field named Loc.
type Loc struct {
	Pos  Pos
	Keys map[string]Pos
}

// At is the position of key, or of the struct itself when the key is absent.
func (l Loc) At(key string) Pos {
	if p, ok := l.Keys[key]; ok {
		return p
	}
	return l.Pos
}

// Error is one problem in a spec file.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

func (e Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Column, e.Msg)
}

// Errors are all the problems found in one file, in file order.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// decoder turns YAML nodes into spec structs, collecting every error with its
// position instead of stopping at the first.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Pos: Pos{n.Line, n.Column}, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorAt(p Pos, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// custom is implemented by types that decode themselves (one-of values, per-cluster values).
type custom interface {
	decodeYAML(d *decoder, n *yaml.Node)
}

var locType = reflect.TypeOf(Loc{})

func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.CanAddr() {
		if c, ok := v.Addr().Interface().(custom); ok {
			c.decodeYAML(d, n)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		d.decode(n, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, v)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "expected a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
			if m.MapIndex(key).IsValid() {
				d.errorf(k, "duplicate key %q", k.Value)
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, e)
			m.SetMapIndex(key, e)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, "true or false"); ok {
			b, err := strconv.ParseBool(s)
			if err != nil || n.Tag != "!!bool" {
				d.errorf(n, "expected true or false, got %q", s)
				return
			}
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if s, ok := d.scalar(n, "a whole number"); ok {
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil || n.Tag != "!!int" {
				d.errorf(n, "expected a whole number, got %q", s)
				return
			}
			v.SetInt(i)
		}
	default:
		panic("spec: unsupported field type " + v.Type().String())
	}
}

// scalar returns the value of a scalar node, reporting anything else.
func (d *decoder) scalar(n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	fields, required := structFields(v.Type())
	loc := Loc{Pos: Pos{n.Line, n.Column}, Keys: map[string]Pos{}}
	for i := 0; i < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k, "unknown key %q%s; allowed: %s", k.Value, suggest(k.Value, keys(fields)), strings.Join(keys(fields), ", "))
			continue
		}
		if _, dup := loc.Keys[k.Value]; dup {
			d.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		loc.Keys[k.Value] = Pos{k.Line, k.Column}
		d.decode(val, v.FieldByIndex(idx))
	}
	for _, r := range required {
		if _, ok := loc.Keys[r]; !ok {
			d.errorf(n, "missing required key %q", r)
		}
	}
	if f := v.FieldByName("Loc"); f.IsValid() && f.Type() == locType {
		f.Set(reflect.ValueOf(loc))
	}
}

// structFields maps each key of a struct to its field (following `yaml:",inline"`
// embedded structs) and lists the required keys.
func structFields(t reflect.Type) (map[string][]int, []string) {
	fields := map[string][]int{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && strings.Contains(f.Tag.Get("yaml"), ",inline") {
			sub, req := structFields(f.Type)
			for k, idx := range sub {
				fields[k] = append([]int{i}, idx...)
			}
			required = append(required, req...)
			continue
		}
		name := yamlName(f)
		if name == "" {
			continue
		}
		fields[name] = []int{i}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
	}
	return fields, required
}

// yamlName is the key of a struct field, or "" for fields not in the file.
func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() || f.Type == locType {
		return ""
	}
	return strings.Split(tag, ",")[0]
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!int":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return strconv.Quote(n.Value)
}

// suggest proposes the closest allowed key for a typo.
func suggest(got string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(got), strings.ToLower(a)); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }
