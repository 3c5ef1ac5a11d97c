// Package forks is the client side of kubefork: it builds Fork objects from
// command-line options and creates, lists, extends and deletes them.
package forks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// CreateOptions describe a fork from the command line.
type CreateOptions struct {
	ID, Namespace, Owner, Profile string
	Deployments, StatefulSets     []string
	// Selector picks Deployments by label (kubectl's selector syntax).
	Selector string
	// Images are [WORKLOAD[/CONTAINER]=]REF; without WORKLOAD, every
	// workload's first container (or CONTAINER) gets REF. With a Selector, a
	// WORKLOAD not named otherwise is taken as a Deployment it picks.
	Images []string
	// Env are K=V, set in the first container of every workload.
	Env      []string
	Replicas *int32
	TTL      time.Duration
	TTLFrom  string // forkv1.TTLFromCreation or TTLFromLastChange
}

// Build makes the Fork the options describe, or says what is wrong with them.
func Build(o CreateOptions) (*forkv1.Fork, error) {
	if errs := validation.IsDNS1123Label(o.ID); len(errs) > 0 || len(o.ID) > 40 {
		return nil, fmt.Errorf("fork identifier %q must be a DNS label of at most 40 characters (lowercase letters, digits, '-')", o.ID)
	}
	if len(o.Deployments)+len(o.StatefulSets) == 0 && o.Selector == "" {
		return nil, errors.New("name the workloads to copy with --deployment, --statefulset or --selector")
	}
	var selector *metav1.LabelSelector
	if o.Selector != "" {
		var err error
		if selector, err = metav1.ParseToLabelSelector(o.Selector); err != nil {
			return nil, fmt.Errorf("--selector %q: %v", o.Selector, err)
		}
	}
	f := &forkv1.Fork{
		TypeMeta:   metav1.TypeMeta{APIVersion: forkv1.GroupVersion.String(), Kind: "Fork"},
		ObjectMeta: metav1.ObjectMeta{Name: o.ID, Namespace: o.Namespace},
		Spec:       forkv1.ForkSpec{Identifier: o.ID, Owner: o.Owner, Profile: o.Profile, TTLFrom: o.TTLFrom},
	}
	if o.TTL > 0 {
		f.Spec.TTL = &metav1.Duration{Duration: o.TTL}
	}
	var env []corev1.EnvVar
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: use NAME=VALUE", kv)
		}
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	workloads := []forkv1.Workload{}
	for _, d := range o.Deployments {
		workloads = append(workloads, forkv1.Workload{Kind: forkv1.KindDeployment, Name: d})
	}
	for _, s := range o.StatefulSets {
		workloads = append(workloads, forkv1.Workload{Kind: forkv1.KindStatefulSet, Name: s})
	}
	if selector != nil {
		workloads = append(workloads, forkv1.Workload{Kind: forkv1.KindDeployment, Selector: selector})
	}
	named := func(name string) bool {
		return slices.ContainsFunc(workloads, func(w forkv1.Workload) bool { return w.Name == name })
	}
	if selector != nil {
		// --image NAME=REF for a Deployment the selector picks: an entry naming
		// it carries its overrides (a name wins over the selector).
		for _, img := range o.Images {
			if target, _, ok := strings.Cut(img, "="); ok {
				if name, _, _ := strings.Cut(target, "/"); name != "" && !named(name) {
					workloads = append(workloads, forkv1.Workload{Kind: forkv1.KindDeployment, Name: name})
				}
			}
		}
	}
	overrides := map[string]map[string]*forkv1.ContainerOverride{} // workload name ("" for the selector) -> container -> override
	override := func(w, ctr string) *forkv1.ContainerOverride {
		if overrides[w] == nil {
			overrides[w] = map[string]*forkv1.ContainerOverride{}
		}
		if overrides[w][ctr] == nil {
			overrides[w][ctr] = &forkv1.ContainerOverride{Name: ctr}
		}
		return overrides[w][ctr]
	}
	for _, img := range o.Images {
		target, ref, ok := strings.Cut(img, "=")
		if !ok {
			target, ref = "", img
		}
		name, ctr, _ := strings.Cut(target, "/")
		if ref == "" || (name != "" && !named(name)) {
			return nil, fmt.Errorf("--image %q: use REF or WORKLOAD[/CONTAINER]=REF with a WORKLOAD given to --deployment or --statefulset (or picked by --selector)", img)
		}
		for _, w := range workloads {
			if name == "" || name == w.Name {
				override(w.Name, ctr).Image = ref
			}
		}
	}
	for _, w := range workloads {
		if len(env) > 0 {
			override(w.Name, "").Env = env
		}
		w.Replicas = o.Replicas
		for _, c := range overrides[w.Name] {
			w.Containers = append(w.Containers, *c)
		}
		slices.SortFunc(w.Containers, func(a, b forkv1.ContainerOverride) int { return strings.Compare(a.Name, b.Name) })
		f.Spec.Workloads = append(f.Spec.Workloads, w)
	}
	return f, nil
}

// Client talks to a cluster's Fork API.
type Client struct{ c client.Client }

// NewClient connects to the cluster.
func NewClient(cfg *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	if err := forkv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// explain turns "no such API" into what to do.
func explain(err error) error {
	if meta.IsNoMatchError(err) {
		return errors.New("this cluster has no Fork API: install kube-controller and its CRDs (see docs/fork.md)")
	}
	return err
}

// Apply creates the Fork, or replaces the spec of an existing one (a new image
// for the same fork); created tells which.
func (c *Client) Apply(ctx context.Context, f *forkv1.Fork) (created bool, err error) {
	err = c.c.Create(ctx, f)
	if !apierrors.IsAlreadyExists(err) {
		return err == nil, explain(err)
	}
	var cur forkv1.Fork
	if err := c.c.Get(ctx, client.ObjectKeyFromObject(f), &cur); err != nil {
		return false, explain(err)
	}
	cur.Spec = f.Spec
	if err := c.c.Update(ctx, &cur); err != nil {
		return false, explain(err)
	}
	*f = cur
	return false, nil
}

// NotFoundError is a fork that does not exist.
type NotFoundError struct{ ID, Namespace string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no fork %s in namespace %s (kube fork list shows them)", e.ID, e.Namespace)
}

// Get reads one Fork.
func (c *Client) Get(ctx context.Context, ns, id string) (*forkv1.Fork, error) {
	var f forkv1.Fork
	if err := c.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: id}, &f); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &NotFoundError{ID: id, Namespace: ns}
		}
		return nil, explain(err)
	}
	return &f, nil
}

// List returns the namespace's Forks, oldest first.
func (c *Client) List(ctx context.Context, ns string) ([]forkv1.Fork, error) {
	var list forkv1.ForkList
	if err := c.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, explain(err)
	}
	slices.SortFunc(list.Items, func(a, b forkv1.Fork) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return list.Items, nil
}

// Extend lengthens a fork's TTL by d.
func (c *Client) Extend(ctx context.Context, ns, id string, d time.Duration) (*forkv1.Fork, error) {
	f, err := c.Get(ctx, ns, id)
	if err != nil {
		return nil, err
	}
	if f.Spec.TTL == nil {
		return nil, fmt.Errorf("fork %s has no TTL: it lives until deleted", id)
	}
	f.Spec.TTL.Duration += d
	if err := c.c.Update(ctx, f); err != nil {
		return nil, explain(err)
	}
	return f, nil
}

// Mutate changes a Fork with change, read afresh and retried on a conflict.
func (c *Client) Mutate(ctx context.Context, ns, id string, change func(*forkv1.Fork)) (*forkv1.Fork, error) {
	var f *forkv1.Fork
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if f, err = c.Get(ctx, ns, id); err != nil {
			return err
		}
		change(f)
		return c.c.Update(ctx, f)
	})
	return f, explain(err)
}

// Delete removes a Fork; with wait it returns once the controller has removed
// its routes and the Fork is gone.
func (c *Client) Delete(ctx context.Context, ns, id string, waitGone bool) error {
	f, err := c.Get(ctx, ns, id)
	if err != nil {
		return err
	}
	if err := c.c.Delete(ctx, f); err != nil {
		return explain(client.IgnoreNotFound(err))
	}
	if !waitGone {
		return nil
	}
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := c.c.Get(ctx, client.ObjectKeyFromObject(f), &forkv1.Fork{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// WaitReady waits until the controller has handled the current spec and the
// fork is Ready; a Degraded fork ends the wait with its reason. report is told
// each new state.
func (c *Client) WaitReady(ctx context.Context, ns, id string, report func(string)) (*forkv1.Fork, error) {
	return c.wait(ctx, ns, id, report, true)
}

// WaitHandled waits until the controller has handled the current spec
// without a problem (Degraded ends the wait), ready or not.
func (c *Client) WaitHandled(ctx context.Context, ns, id string) (*forkv1.Fork, error) {
	return c.wait(ctx, ns, id, nil, false)
}

func (c *Client) wait(ctx context.Context, ns, id string, report func(string), ready bool) (*forkv1.Fork, error) {
	var f *forkv1.Fork
	last := ""
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var err error
		if f, err = c.Get(ctx, ns, id); err != nil {
			return false, err
		}
		state := State(f)
		if state != last && report != nil {
			report(state)
		}
		last = state
		if f.Status.ObservedGeneration != f.Generation {
			return false, nil
		}
		if d := meta.FindStatusCondition(f.Status.Conditions, forkv1.ConditionDegraded); d != nil && d.Status == metav1.ConditionTrue {
			return false, fmt.Errorf("fork %s is degraded: %s", id, d.Message)
		}
		return !ready || meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionReady), nil
	})
	if err != nil && ctx.Err() != nil {
		return f, fmt.Errorf("fork %s not ready in time; last state: %s (kube fork status %s)", id, last, id)
	}
	return f, err
}

// State is a one-line summary of where a fork is.
func State(f *forkv1.Fork) string {
	if f.Status.ObservedGeneration != f.Generation {
		return "waiting for kube-controller"
	}
	if c := meta.FindStatusCondition(f.Status.Conditions, forkv1.ConditionReady); c != nil {
		if c.Status == metav1.ConditionTrue {
			return "ready"
		}
		return c.Message
	}
	return "pending"
}
