package forkconnect

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Environment is the original container's environment as the developer may
// read it: values come with the developer's own rights, never the
// controller's; what could not be set is named with the reason, never its
// value.
type Environment struct {
	Vars    []string // K=V
	Missing []string // "K: why"
	// FromSecrets names the variables whose values come from Secrets: they
	// go to the command's environment, never to a file.
	FromSecrets map[string]bool
}

// Environment resolves the container's env and envFrom; noSecrets leaves
// every Secret out.
func (s *Session) Environment(ctx context.Context, noSecrets bool) *Environment {
	r := &resolver{s: s, noSecrets: noSecrets, maps: map[string]map[string]string{}, errs: map[string]string{}, secret: map[string]bool{}}
	vars := map[string]string{}
	c := s.container
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			data, why := r.read(ctx, "ConfigMap", ef.ConfigMapRef.Name, ptrTrue(ef.ConfigMapRef.Optional))
			r.addAll(vars, ef.Prefix, data, why, "envFrom ConfigMap "+ef.ConfigMapRef.Name)
		case ef.SecretRef != nil:
			data, why := r.read(ctx, "Secret", ef.SecretRef.Name, ptrTrue(ef.SecretRef.Optional))
			r.addAll(vars, ef.Prefix, data, why, "envFrom Secret "+ef.SecretRef.Name)
			for k := range data {
				r.secret[ef.Prefix+k] = true
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			vars[e.Name] = e.Value
			delete(r.secret, e.Name)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			r.addKey(ctx, vars, e.Name, "ConfigMap", ref.Name, ref.Key, ptrTrue(ref.Optional))
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			r.addKey(ctx, vars, e.Name, "Secret", ref.Name, ref.Key, ptrTrue(ref.Optional))
			r.secret[e.Name] = true
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			vars[e.Name] = s.o.Namespace
		case e.ValueFrom.FieldRef != nil:
			r.missing = append(r.missing, fmt.Sprintf("%s: %s is the pod's, and your process has no pod", e.Name, e.ValueFrom.FieldRef.FieldPath))
		default:
			r.missing = append(r.missing, e.Name+": a resource field of the pod, which your process does not have")
		}
	}
	env := &Environment{Missing: r.missing, FromSecrets: r.secret}
	for k, v := range vars {
		env.Vars = append(env.Vars, k+"="+v)
	}
	sort.Strings(env.Vars)
	return env
}

type resolver struct {
	s         *Session
	noSecrets bool
	maps      map[string]map[string]string
	errs      map[string]string
	missing   []string
	secret    map[string]bool
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// read is a ConfigMap's or Secret's data, or why it cannot be had ("" and
// nil data for an optional one that does not exist).
func (r *resolver) read(ctx context.Context, kind, name string, optional bool) (map[string]string, string) {
	key := kind + "/" + name
	if data, ok := r.maps[key]; ok {
		return data, r.errs[key]
	}
	var data map[string]string
	var err error
	switch {
	case kind == "Secret" && r.noSecrets:
		r.errs[key] = "--no-secrets"
	case kind == "Secret":
		var sec *corev1.Secret
		if sec, err = r.s.kube.CoreV1().Secrets(r.s.o.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data = map[string]string{}
			for k, v := range sec.Data {
				data[k] = string(v)
			}
		}
	default:
		var cm *corev1.ConfigMap
		if cm, err = r.s.kube.CoreV1().ConfigMaps(r.s.o.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data = cm.Data
		}
	}
	switch {
	case apierrors.IsForbidden(err):
		r.errs[key] = fmt.Sprintf("you may not get %s %s", kind, name)
	case apierrors.IsNotFound(err) && optional:
	case apierrors.IsNotFound(err):
		r.errs[key] = fmt.Sprintf("%s %s does not exist", kind, name)
	case err != nil:
		r.errs[key] = fmt.Sprintf("reading %s %s: %v", kind, name, err)
	}
	r.maps[key] = data
	return data, r.errs[key]
}

func (r *resolver) addKey(ctx context.Context, vars map[string]string, name, kind, obj, key string, optional bool) {
	data, why := r.read(ctx, kind, obj, optional)
	if why != "" {
		r.missing = append(r.missing, fmt.Sprintf("%s: %s", name, why))
		return
	}
	v, ok := data[key]
	switch {
	case ok:
		vars[name] = v
	case !optional && data != nil:
		r.missing = append(r.missing, fmt.Sprintf("%s: %s %s has no key %s", name, kind, obj, key))
	}
}

func (r *resolver) addAll(vars map[string]string, prefix string, data map[string]string, why, what string) {
	if why != "" {
		r.missing = append(r.missing, fmt.Sprintf("%s: %s", what, why))
		return
	}
	for k, v := range data {
		vars[prefix+k] = v
	}
}
