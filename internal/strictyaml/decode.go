// Package strictyaml decodes YAML into Go structs strictly: unknown keys, wrong
// types and missing required keys are errors, every error carries its
// file:line:column, and all of a file's errors are collected instead of the first.
// Struct fields use `yaml:"key"`, `yaml:",inline"` and `required:"true"` tags; a
// field `Loc Loc` receives the positions of the struct and its keys.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kube-idp/kube/internal/secrets"

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

// At is the position of a node.
func At(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

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

// Limits that bound the work on hostile input: every kube command run in a
// repository reads its spec, so a small file must never cost minutes or gigabytes.
const (
	// MaxFileSize is the largest file kube decodes (specs and registries are a
	// few kilobytes).
	MaxFileSize = 1 << 20
	// MaxExpandedNodes is how many nodes aliases may add to a document's own:
	// an alias is decoded again at every use, so nested aliases ("billion
	// laughs") grow exponentially. yaml.v3 bounds its own decoder the same way.
	MaxExpandedNodes = 100_000
)

// Decoder turns YAML nodes into structs, collecting every error with its
// position instead of stopping at the first.
type Decoder struct {
	file string
	errs Errors
	// budget is how many more nodes may be decoded; exhausted stops decoding.
	budget    int
	exhausted bool
}

// NewDecoder collects errors for file.
func NewDecoder(file string) *Decoder { return &Decoder{file: file, budget: -1} }

// limit sets the decoding budget for the document at root: its own nodes plus
// MaxExpandedNodes more through aliases.
func (d *Decoder) limit(root *yaml.Node) {
	d.budget = countNodes(root) + MaxExpandedNodes
}

// countNodes counts a tree's nodes without following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

// spend takes one node from the budget; false once the document is too large.
func (d *Decoder) spend(n *yaml.Node) bool {
	if d.exhausted {
		return false
	}
	if d.budget < 0 {
		return true // no limit set (a decoder used on a fragment)
	}
	if d.budget == 0 {
		d.exhausted = true
		d.Errorf(n, "the document expands to more than %d nodes through aliases (*name): refusing to decode it; write the values out instead of nesting aliases", MaxExpandedNodes)
		return false
	}
	d.budget--
	return true
}

// Errs returns the errors collected so far.
func (d *Decoder) Errs() Errors { return d.errs }

// Reset forgets the errors collected so far and returns them.
func (d *Decoder) Reset() Errors {
	errs := d.errs
	d.errs = nil
	return errs
}

// Errorf records an error at a node.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Pos: Pos{n.Line, n.Column}, Msg: fmt.Sprintf(format, args...)})
}

// ErrorAt records an error at a position (the document's start when unknown).
func (d *Decoder) ErrorAt(p Pos, format string, args ...any) {
	if p.Line < 1 {
		p = Pos{1, 1}
	}
	d.errs = append(d.errs, Error{File: d.file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// Custom is implemented by types that decode themselves (one-of values, values
// that may be a scalar or a mapping).
type Custom interface {
	DecodeYAML(d *Decoder, n *yaml.Node)
}

var locType = reflect.TypeOf(Loc{})

// Decode decodes n into v.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value) {
	if !d.spend(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.CanAddr() {
		if c, ok := v.Addr().Interface().(Custom); ok {
			c.DecodeYAML(d, n)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if IsNull(n) {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		d.Decode(n, v.Elem())
	case reflect.Struct:
		d.DecodeStruct(n, v)
	case reflect.Slice:
		if IsNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n, "expected a list, got %s", Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.Decode(item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if IsNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.Errorf(n, "expected a mapping, got %s", Describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
			if m.MapIndex(key).IsValid() {
				d.Errorf(k, "duplicate key %s", Excerpt(k.Value))
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.Decode(val, e)
			m.SetMapIndex(key, e)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, "a string"); ok {
			if r, found := controlChar(s); found {
				// kube prints these strings: an escape sequence would drive the
				// reader's terminal (rewrite a line, hide a warning).
				d.Errorf(n, "the value holds the control character %U; only tabs and line breaks are allowed", r)
				return
			}
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, "true or false"); ok {
			b, err := strconv.ParseBool(s)
			if err != nil || n.Tag != "!!bool" {
				d.Errorf(n, "expected true or false, got %s", Excerpt(s))
				return
			}
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if s, ok := d.scalar(n, "a whole number"); ok {
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil || n.Tag != "!!int" {
				d.Errorf(n, "expected a whole number, got %s", Excerpt(s))
				return
			}
			v.SetInt(i)
		}
	default:
		panic("spec: unsupported field type " + v.Type().String())
	}
}

// scalar returns the value of a scalar node, reporting anything else.
func (d *Decoder) scalar(n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.Errorf(n, "expected %s, got %s", want, Describe(n))
		return "", false
	}
	return n.Value, true
}

// DecodeStruct decodes a mapping into the struct v.
func (d *Decoder) DecodeStruct(n *yaml.Node, v reflect.Value) {
	if d.exhausted {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "expected a mapping, got %s", Describe(n))
		return
	}
	fields, required := StructFields(v.Type())
	loc := Loc{Pos: Pos{n.Line, n.Column}, Keys: map[string]Pos{}}
	for i := 0; i < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.UnknownKey(k, Keys(fields))
			continue
		}
		if _, dup := loc.Keys[k.Value]; dup {
			d.Errorf(k, "duplicate key %s", Excerpt(k.Value))
			continue
		}
		loc.Keys[k.Value] = Pos{k.Line, k.Column}
		d.Decode(val, v.FieldByIndex(idx))
	}
	for _, r := range required {
		if _, ok := loc.Keys[r]; !ok {
			d.Errorf(n, "missing required key %q", r)
		}
	}
	if f := v.FieldByName("Loc"); f.IsValid() && f.Type() == locType {
		f.Set(reflect.ValueOf(loc))
	}
}

// UnknownKey reports a key that is not among allowed, suggesting the closest.
func (d *Decoder) UnknownKey(k *yaml.Node, allowed []string) {
	d.Errorf(k, "unknown key %s%s; allowed: %s", Excerpt(k.Value), suggest(k.Value, allowed), strings.Join(allowed, ", "))
}

// StructFields maps each key of a struct to its field (following `yaml:",inline"`
// embedded structs) and lists the required keys.
func StructFields(t reflect.Type) (map[string][]int, []string) {
	fields := map[string][]int{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && strings.Contains(f.Tag.Get("yaml"), ",inline") {
			sub, req := StructFields(f.Type)
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

// Keys returns the keys of m, sorted.
func Keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// IsNull is true for an explicit or implicit null.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Describe names what a node is, for messages.
func Describe(n *yaml.Node) string {
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
	return Excerpt(n.Value)
}

// controlChar finds a control character other than tab and line breaks (C0,
// DEL and C1: terminal escape sequences start with one).
func controlChar(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r < 0xa0) {
			return r, true
		}
	}
	return 0, false
}

// ExcerptLen is the most characters of a file's value a message quotes.
const ExcerptLen = 24

// Excerpt quotes a value read from a file for a message: short values whole,
// longer ones cut to their start, and none the credential scanner recognises.
// A file that is not what kube expected (a token behind a link, a credentials
// file named by mistake) must not be copied into a CI log through an error.
func Excerpt(s string) string {
	if secrets.InText(s) || secrets.LooksLikeCredential("", s) {
		return fmt.Sprintf("a value that looks like a credential (%d characters, not shown)", len(s))
	}
	r := []rune(s)
	if len(r) <= ExcerptLen {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s… (%d characters)", strconv.Quote(string(r[:ExcerptLen/2])), len(r))
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

// Value is the addressable value a pointer points to.
func Value(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

// HasKey tells whether a mapping node has key.
func HasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// Unmarshal decodes one YAML document of file into v (a pointer to a struct) and
// returns every error found, or nil.
func Unmarshal(file string, data []byte, v any) Errors {
	root, errs := Parse(file, data)
	if errs != nil {
		return errs
	}
	d := NewDocumentDecoder(file, root)
	d.Decode(root, Value(v))
	return d.errs
}

// NewDocumentDecoder is NewDecoder for the document at root, with the alias
// expansion budget set.
func NewDocumentDecoder(file string, root *yaml.Node) *Decoder {
	d := NewDecoder(file)
	d.limit(root)
	return d
}

// ReadFile reads a file to decode, refusing one larger than MaxFileSize before
// reading it whole. It follows symbolic links: use it for the user's own files
// (the cluster registry), ReadFileIn for a repository's.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(path, f)
}

// ReadFileIn reads the file name inside the directory dir (a repository, an
// app), through an os.Root: a symbolic link or ".." that leaves dir is refused
// with a message at the file, and nothing of the target is read. Errors are
// Errors (file:line:column) except when the file does not exist
// (errors.Is(err, fs.ErrNotExist) holds).
func ReadFileIn(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	display := filepath.Join(dir, name)
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if IsEscape(err) {
			return nil, Errors{{File: display, Pos: Pos{1, 1}, Msg: fmt.Sprintf("a symbolic link or path that leaves %s: kube reads only files inside it", dir)}}
		}
		return nil, err
	}
	defer f.Close()
	return readLimited(display, f)
}

// IsEscape tells whether an os.Root refused a path for leaving the root.
// os.Root's error has no exported type; its text is fixed ("path escapes from
// parent").
func IsEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func readLimited(path string, f io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path)
	}
	return data, nil
}

func tooLarge(file string) Errors {
	return Errors{{File: file, Pos: Pos{1, 1}, Msg: fmt.Sprintf("the file is larger than %d KiB, the most kube reads: is it the right file?", MaxFileSize>>10)}}
}

// ErrEmpty is the message for a file without a document.
const ErrEmpty = "the file is empty"

// Parse reads the single YAML document of a file, or returns why it cannot.
func Parse(file string, data []byte) (*yaml.Node, Errors) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(file)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		return nil, Errors{{File: file, Pos: Pos{1, 1}, Msg: ErrEmpty}}
	} else if err != nil {
		return nil, Errors{SyntaxError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Pos: Pos{extra.Line, extra.Column}, Msg: "a second YAML document; the file holds one"}}
	}
	return doc.Content[0], nil
}

// SyntaxError turns a YAML parser error ("yaml: line 3: ...") into an Error.
func SyntaxError(file string, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return Error{File: file, Pos: Pos{line, 1}, Msg: "invalid YAML: " + msg}
}

// Merge combines decoding errors with the errors of checks run on the partly
// decoded result: a check's error on a line that already has a decoding error is
// dropped (it usually repeats it), and the result is in file order.
func Merge(decode, checks Errors) Errors {
	out := decode
	lines := make(map[int]bool, len(decode))
	for _, de := range decode {
		lines[de.Pos.Line] = true
	}
	for _, e := range checks {
		switch {
		case e.Pos.Line < 1 && len(decode) > 0:
			// A check of something that did not decode: the decoding error says it.
		case e.Pos.Line < 1:
			e.Pos = Pos{1, 1}
			out = append(out, e)
		case !lines[e.Pos.Line]:
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	return out
}
