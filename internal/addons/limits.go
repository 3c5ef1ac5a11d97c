package addons

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// A chart comes from a pull request or a third-party repository, and kube
// renders it on every CI run: rendering is bounded in time, in output and in
// what one template function may allocate (a five-line template calling
// repeat made 2.3 GB).
const (
	// DefaultRenderTimeout bounds one add-on's rendering.
	DefaultRenderTimeout = 20 * time.Second
	// MaxRenderedBytes bounds one add-on's rendered manifests (the largest
	// charts, CRDs included, render a few MiB).
	MaxRenderedBytes = 32 << 20
	// maxFuncBytes and maxFuncItems bound what one call of a string or list
	// function of a template may build.
	maxFuncBytes = 1 << 20
	maxFuncItems = 100_000
)

// boundedFuncs replace Sprig's functions whose cost a template's arguments
// choose, so that one call cannot take the machine's memory.
func boundedFuncs() template.FuncMap {
	sp := sprig.TxtFuncMap()
	untilStep := sp["untilStep"].(func(int, int, int) []int)
	seq := sp["seq"].(func(...int) string)
	items := func(start, stop, step int) error {
		if step == 0 {
			return nil
		}
		if n := (stop - start) / step; n > maxFuncItems {
			return fmt.Errorf("a list of %d items is more than the %d a chart may build", n, maxFuncItems)
		}
		return nil
	}
	size := func(fn string, n int) error {
		if n > maxFuncBytes || n < 0 {
			return fmt.Errorf("%s: %d bytes is more than the %d a chart may build in one call", fn, n, maxFuncBytes)
		}
		return nil
	}
	funcs := template.FuncMap{
		"repeat": func(count int, s string) (string, error) {
			if count > 0 && len(s) > 0 && (count > maxFuncBytes || count*len(s) > maxFuncBytes) {
				return "", fmt.Errorf("repeat: %d copies of %d bytes is more than the %d a chart may build in one call", count, len(s), maxFuncBytes)
			}
			return strings.Repeat(s, max(count, 0)), nil
		},
		"until": func(count int) ([]int, error) {
			step := 1
			if count < 0 {
				step = -1
			}
			if err := items(0, count, step); err != nil {
				return nil, err
			}
			return untilStep(0, count, step), nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			if err := items(start, stop, step); err != nil {
				return nil, err
			}
			return untilStep(start, stop, step), nil
		},
		"seq": func(params ...int) (string, error) {
			for _, p := range params {
				if p > maxFuncItems || p < -maxFuncItems {
					return "", fmt.Errorf("seq: %d is beyond the %d items a chart may build", p, maxFuncItems)
				}
			}
			return seq(params...), nil
		},
		"indent": func(spaces int, s string) (string, error) {
			if err := size("indent", spaces*(strings.Count(s, "\n")+1)+len(s)); err != nil {
				return "", err
			}
			pad := strings.Repeat(" ", max(spaces, 0))
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
		},
		"nindent": func(spaces int, s string) (string, error) {
			if err := size("nindent", spaces*(strings.Count(s, "\n")+1)+len(s)); err != nil {
				return "", err
			}
			pad := strings.Repeat(" ", max(spaces, 0))
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
		},
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randNumeric", "randAscii"} {
		fn := sp[name].(func(int) string)
		funcs[name] = func(n int) (string, error) {
			if err := size(name, n); err != nil {
				return "", err
			}
			return fn(n), nil
		}
	}
	return funcs
}
