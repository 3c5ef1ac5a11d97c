package yamlout

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"go.yaml.in/yaml/v2"
)

// fastMarshal renders m byte for byte as yaml.v2 does, or declines (ok
// false) for what it does not render identically: floats, strings with tabs
// or non-ASCII, double-quoted strings long enough to be folded, odd keys. It
// exists because yaml.v2's emitter queues every event of a document without
// ever compacting the queue: about 36 kB of allocation per manifest, half of
// a fleet check. Whether a string is plain or quoted is still yaml.v2's
// decision, asked once per distinct string; FuzzFastMarshal and the golden
// manifests hold the two renderings equal.
func fastMarshal(m map[string]any) ([]byte, bool) {
	if len(m) == 0 {
		return nil, false
	}
	e := &fastEncoder{b: make([]byte, 0, 1024)}
	if !e.mapping(m, 0, false) {
		return nil, false
	}
	return e.b, true
}

// bestWidth is yaml.v2's line width: a plain scalar breaks at a space past it.
const bestWidth = 80

type fastEncoder struct {
	b   []byte
	col int
}

func (e *fastEncoder) write(s string) { e.b = append(e.b, s...); e.col += len(s) }
func (e *fastEncoder) newline()       { e.b = append(e.b, '\n'); e.col = 0 }
func (e *fastEncoder) indent(n int) {
	for e.col < n {
		e.b = append(e.b, ' ')
		e.col++
	}
}

// mapping writes a block mapping at indent n; inline means its first key
// follows a sequence's "- " on the same line.
func (e *fastEncoder) mapping(m map[string]any, n int, inline bool) bool {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for i, k := range keys {
		if i > 0 || !inline {
			e.indent(n)
		}
		form := scalarOf(k)
		if !form.ok || !form.plain || len(k) > 128 {
			return false
		}
		e.write(k)
		e.write(":")
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				e.write(" {}")
				e.newline()
				continue
			}
			e.newline()
			if !e.mapping(v, n+2, false) {
				return false
			}
		case []any:
			if len(v) == 0 {
				e.write(" []")
				e.newline()
				continue
			}
			e.newline()
			// yaml.v2 does not indent a sequence inside a mapping.
			if !e.sequence(v, n, false) {
				return false
			}
		default:
			e.write(" ")
			if !e.scalar(v, n+2) {
				return false
			}
			e.newline()
		}
	}
	return true
}

// sequence writes a block sequence whose dashes are at column n.
func (e *fastEncoder) sequence(s []any, n int, inline bool) bool {
	for i, item := range s {
		if i > 0 || !inline {
			e.indent(n)
		}
		e.write("- ")
		switch v := item.(type) {
		case map[string]any:
			if len(v) == 0 {
				e.write("{}")
				e.newline()
				continue
			}
			if !e.mapping(v, n+2, true) {
				return false
			}
		case []any:
			if len(v) == 0 {
				e.write("[]")
				e.newline()
				continue
			}
			if !e.sequence(v, n+2, true) {
				return false
			}
		default:
			if !e.scalar(v, n+2) {
				return false
			}
			e.newline()
		}
	}
	return true
}

// scalar writes a value at the current column; a plain string longer than
// the line breaks at spaces onto lines indented by cont, as yaml.v2's
// write_plain_scalar does.
func (e *fastEncoder) scalar(v any, cont int) bool {
	switch t := v.(type) {
	case nil:
		e.write("null")
	case bool:
		e.write(strconv.FormatBool(t))
	case int:
		e.write(strconv.Itoa(t))
	case int64:
		e.write(strconv.FormatInt(t, 10))
	case int32:
		e.write(strconv.FormatInt(int64(t), 10))
	case string:
		form := scalarOf(t)
		switch {
		case !form.ok:
			return false
		case form.literal:
			// write_literal_scalar: the header, then each line at the
			// value's indentation, empty lines left empty.
			e.write(form.text)
			for _, line := range form.lines {
				e.newline()
				if line != "" {
					e.indent(cont)
					e.write(line)
				}
			}
		case form.single:
			// write_single_quoted_scalar: '' for ', breaks as plain ones but
			// never at the first or last character.
			e.write("'")
			e.folded(t, cont, true)
			e.write("'")
		case !form.plain:
			if e.col+len(form.text) > bestWidth && strings.Contains(form.text, " ") {
				return false // yaml.v2 would fold it
			}
			e.write(form.text)
		default:
			e.folded(t, cont, false)
		}
	default:
		return false // floats and anything else: yaml.v2 renders them
	}
	return true
}

// folded writes s breaking at single spaces past the line's width, as
// yaml.v2's write_plain_scalar and write_single_quoted_scalar do.
func (e *fastEncoder) folded(s string, cont int, quoted bool) {
	spaces := false
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			if quoted && s[i] == '\'' {
				e.b = append(e.b, '\'')
				e.col++
			}
			e.b = append(e.b, s[i])
			e.col++
			spaces = false
			continue
		}
		if !spaces && e.col > bestWidth && i+1 < len(s) && s[i+1] != ' ' && (!quoted || i > 0) {
			e.newline()
			e.indent(cont)
		} else {
			e.b = append(e.b, ' ')
			e.col++
		}
		spaces = true
	}
}

// scalarForm is how yaml.v2 writes a string: plain (the string itself),
// single-quoted (folded as it lands) or another quoted text.
type scalarForm struct {
	text                       string
	lines                      []string // of a literal block, unindented
	plain, single, literal, ok bool
}

var (
	// scalarForms remembers yaml.v2's answers, up to a bound: a deploy or a
	// fleet check asks about a few thousand strings.
	scalarForms     sync.Map // string -> scalarForm
	scalarFormCount atomic.Int64
	foldedLine      = regexp.MustCompile(`\n +`)
)

func scalarOf(s string) scalarForm {
	if plainForSure(s) {
		return scalarForm{text: s, plain: true, ok: true}
	}
	if f, ok := scalarForms.Load(s); ok {
		return f.(scalarForm)
	}
	f := computeScalarForm(s)
	if scalarFormCount.Add(1) <= 1<<16 {
		scalarForms.Store(s, f)
	}
	return f
}

// plainForSure is a conservative part of yaml.v2's analyze_scalar and
// resolve: a printable ASCII string starting with a letter, '(' or '/' (no
// indicator, nothing resolve reads as a number or bool), without ": " or
// " #", not ending in ':' or a space, and not a YAML 1.1 bool or null, is
// written plain. Anything else is asked of yaml.v2.
func plainForSure(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '(' || s[0] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c > 0x7e:
			return false
		case c == ':' && (i+1 == len(s) || s[i+1] == ' '):
			return false
		case c == '#' && s[i-1] == ' ':
			return false
		}
	}
	if s[len(s)-1] == ' ' {
		return false
	}
	if len(s) <= 5 {
		switch strings.ToLower(s) {
		case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
			return false
		}
	}
	return true
}

func computeScalarForm(s string) scalarForm {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 && s[i] != '\n') || s[i] > 0x7e {
			return scalarForm{} // tabs, carriage returns, non-ASCII: yaml.v2's
		}
	}
	out, err := yaml.Marshal(s)
	if err != nil || len(out) == 0 {
		return scalarForm{}
	}
	text := strings.TrimSuffix(string(out), "\n")
	switch text[0] {
	case '|':
		// At the root, yaml.v2 indents a literal block's lines by 2.
		header, body, _ := strings.Cut(text, "\n")
		f := scalarForm{text: header, literal: true, ok: true}
		for _, line := range strings.Split(body, "\n") {
			if line != "" && !strings.HasPrefix(line, "  ") {
				return scalarForm{}
			}
			f.lines = append(f.lines, strings.TrimPrefix(line, "  "))
		}
		return f
	case '\'':
		return scalarForm{text: text, single: true, ok: true}
	case '"':
		if strings.Contains(text, "\n") {
			return scalarForm{}
		}
		return scalarForm{text: text, ok: true}
	case '>', '!', '&', '*':
		return scalarForm{}
	}
	if strings.Contains(s, "\n") {
		return scalarForm{} // plain only on one line here
	}
	// Plain: the string itself, which yaml.v2 may have broken at spaces past
	// the line's width (the writer does that again where the string lands).
	if text != s && foldedLine.ReplaceAllString(text, " ") != s {
		return scalarForm{}
	}
	return scalarForm{text: s, plain: true, ok: true}
}

// sortKeys orders keys as yaml.v2's keyList does for strings: runs of
// digits compare as numbers, letters before other characters.
func sortKeys(keys []string) {
	// Insertion sort: manifests' mappings have a handful of keys.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func keyLess(a, b string) bool {
	if ascii(a) && ascii(b) {
		return runesLess(len(a), len(b), func(i int) rune { return rune(a[i]) }, func(i int) rune { return rune(b[i]) })
	}
	ar, br := []rune(a), []rune(b)
	return runesLess(len(ar), len(br), func(i int) rune { return ar[i] }, func(i int) rune { return br[i] })
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// runesLess is yaml.v2's keyList.Less for two strings of la and lb runes.
func runesLess(la, lb int, ar, br func(int) rune) bool {
	for i := 0; i < la && i < lb; i++ {
		if ar(i) == br(i) {
			continue
		}
		al := unicode.IsLetter(ar(i))
		bl := unicode.IsLetter(br(i))
		if al && bl {
			return ar(i) < br(i)
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar(i) == '0' || br(i) == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar(j)); j-- {
				if ar(j) != '0' {
					an = 1
					bn = 1
					break
				}
			}
		}
		for ai = i; ai < la && unicode.IsDigit(ar(ai)); ai++ {
			an = an*10 + int64(ar(ai)-'0')
		}
		for bi = i; bi < lb && unicode.IsDigit(br(bi)); bi++ {
			bn = bn*10 + int64(br(bi)-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar(i) < br(i)
	}
	return la < lb
}
