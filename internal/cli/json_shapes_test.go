package cli

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/forks"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/infra"
	"github.com/kube-idp/kube/internal/propose"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/slo"
)

// The -o json of the commands that need a cluster, held by golden files of
// their shape: every field of the typed result, filled, so that renaming or
// dropping one (omitempty ones included) shows up here and not in a user's
// script. Their values come from the end-to-end tests.
func TestJSONShapesOfClusterCommands(t *testing.T) {
	for name, v := range map[string]any{
		"status":           &deploy.AppStatus{},
		"history":          &[]deploy.Revision{},
		"ps":               &[]deploy.Process{},
		"deploy":           &deploy.Result{},
		"diff":             &deploy.Plan{},
		"rollback":         &rollbackResult{},
		"run":              &runResult{},
		"scale":            &scaleResult{},
		"clusters":         &[]clusterRow{},
		"version":          &versionInfo{},
		"generate-check":   &[]*generate.Report{},
		"generate-propose": &[]propose.Result{},
		"sandbox-status":   &sandbox.Status{},
		"slo":              &[]slo.Status{},
		"alerts-list":      &alertRules{},
		"alerts-firing":    &firingAlerts{},
		"alerts-silence":   &silenceCreated{},
		"alerts-unsilence": &silencesExpired{},
		"alerts-route":     &alertRoute{},
		"alerts-lint":      &[]ChannelCheck{},
		"addons-list":      &[]addons.Listed{},
		"addons-diff":      &[]*deploy.Plan{},
		"addons-deploy":    &[]addons.Result{},
		"fork-status":      &forks.View{},
		"fork-list":        &[]forks.View{},
		"infra-targets":    &infraMatrix{},
		"infra-tags":       &infra.TagReport{},
		"infra-plan":       &infra.Summary{},
		"infra-apply":      &infra.ApplyResult{},
		"infra-comment":    &infra.Posted{},
		"infra-follow-up":  &infra.FollowUp{},
		"infra-replan":     &[]infra.Replanned{},
		"infra-policy":     &infra.PolicyReport{},
		"infra-unlock":     &infraUnlock{},
	} {
		t.Run(name, func(t *testing.T) {
			fill(reflect.ValueOf(v).Elem(), 0)
			var out bytes.Buffer
			s := &IOStreams{Out: &out}
			if _, err := s.structured(outputJSON, reflect.ValueOf(v).Elem().Interface()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "json", "shape", name+".json"), name, out.String())
		})
	}
}

var shapeTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fill gives every settable field a value that is not its zero: one element
// per slice and map, a fixed time, strings named after their type.
func fill(v reflect.Value, depth int) {
	if depth > 8 || !v.CanSet() {
		return
	}
	if v.Type() == reflect.TypeOf(time.Time{}) {
		v.Set(reflect.ValueOf(shapeTime))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), depth+1)
		}
	}
}
