// Package console is kube's web console: server-rendered, read-only pages of
// the fleet (every app on every cluster), of one app (objects, pods,
// revisions and the diff between any two, forks, CronJobs) and of the
// platform catalog. It reads with the credentials it is given and never
// reads Secret values: revision records are listed through the metadata API,
// and diffs come from the records, which hold no Secret values.
package console

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/pager"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/forks"
	"github.com/kube-idp/kube/internal/monitoring"
	"github.com/kube-idp/kube/internal/slo"
)

// Cluster is one cluster the console shows, with clients built from the
// user's (or the console's ServiceAccount's) credentials.
type Cluster struct {
	Name   string
	Deploy *deploy.Client
	Meta   metadata.Interface
	Forks  *forks.Client
	// Monitoring reaches the cluster's Prometheus (alerts firing, SLO
	// budgets); nil when the registry names none.
	Monitoring *monitoring.API
}

// FleetApp is one app on one cluster, as the fleet page lists it.
type FleetApp struct {
	Cluster   string          `json:"cluster"`
	Namespace string          `json:"namespace"`
	App       string          `json:"app"`
	Team      string          `json:"team,omitempty"`
	Channel   string          `json:"channel,omitempty"`
	Revision  deploy.Revision `json:"revision"`
	// Status is the verdict on its workloads, from the code that answers for
	// kube status (deploy.Readiness, deploy.Verdict); Message says why.
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Ready   int32  `json:"ready"`   // ready replicas of its Deployments and StatefulSets
	Desired int32  `json:"desired"` // their desired replicas (as their status reports them)
	// statuses are its workloads' verdicts, folded into Status.
	statuses []string
}

// judge adds a workload's verdict to its app's.
func (a *FleetApp) judge(obj runtime.Object) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		a.statuses = append(a.statuses, string(kstatus.UnknownStatus))
		return
	}
	u := &unstructured.Unstructured{Object: m}
	st, msg := deploy.Readiness(u)
	a.statuses = append(a.statuses, string(st))
	if st != kstatus.CurrentStatus && a.Message == "" {
		a.Message = u.GetKind() + "/" + u.GetName() + ": " + msg
	}
}

// FleetCluster is a cluster's apps, or why they could not be read: one
// unreachable cluster does not hide the others.
type FleetCluster struct {
	Name  string     `json:"name"`
	Error string     `json:"error,omitempty"`
	Apps  []FleetApp `json:"apps"`
}

// Fleet reads every cluster at once: five list calls each (revision records'
// metadata, Deployments, StatefulSets, CronJobs, AlertmanagerConfigs),
// whatever the number of apps.
func Fleet(ctx context.Context, clusters []Cluster) []FleetCluster {
	out := make([]FleetCluster, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			apps, err := fleetOf(ctx, c)
			out[i] = FleetCluster{Name: c.Name, Apps: apps}
			if err != nil {
				out[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	return out
}

type appKey struct{ namespace, app string }

func fleetOf(ctx context.Context, c Cluster) ([]FleetApp, error) {
	current, err := deploy.CurrentRevisions(ctx, c.Meta)
	if err != nil {
		return nil, err
	}
	apps := map[appKey]*FleetApp{}
	for _, r := range current {
		apps[appKey{r.Namespace, r.App}] = &FleetApp{Cluster: c.Name, Namespace: r.Namespace, App: r.App, Revision: r.Revision}
	}
	byApplySet := map[string]*FleetApp{}
	for k, a := range apps {
		byApplySet[deploy.ApplySetID(k.app, k.namespace)] = a
	}
	sel := metav1.ListOptions{LabelSelector: contract.LabelPartOf}
	apps1 := c.Deploy.Kube.AppsV1()
	err = eachItem(ctx, func(o metav1.ListOptions) (runtime.Object, error) { return apps1.Deployments("").List(ctx, o) }, sel, func(obj runtime.Object) {
		d := obj.(*appsv1.Deployment)
		if a := byApplySet[d.Labels[contract.LabelPartOf]]; a != nil {
			d.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
			a.judge(d)
			a.Desired += d.Status.Replicas
			a.Ready += d.Status.ReadyReplicas
			a.Team = cmp.Or(a.Team, d.Labels[contract.LabelTeam])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	err = eachItem(ctx, func(o metav1.ListOptions) (runtime.Object, error) { return apps1.StatefulSets("").List(ctx, o) }, sel, func(obj runtime.Object) {
		s := obj.(*appsv1.StatefulSet)
		if a := byApplySet[s.Labels[contract.LabelPartOf]]; a != nil {
			s.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("StatefulSet"))
			a.judge(s)
			a.Desired += s.Status.Replicas
			a.Ready += s.Status.ReadyReplicas
			a.Team = cmp.Or(a.Team, s.Labels[contract.LabelTeam])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing StatefulSets: %w", err)
	}
	err = eachItem(ctx, func(o metav1.ListOptions) (runtime.Object, error) {
		return c.Deploy.Kube.BatchV1().CronJobs("").List(ctx, o)
	}, sel, func(obj runtime.Object) {
		cj := obj.(*batchv1.CronJob)
		if a := byApplySet[cj.Labels[contract.LabelPartOf]]; a != nil {
			cj.SetGroupVersionKind(batchv1.SchemeGroupVersion.WithKind("CronJob"))
			a.judge(cj)
			a.Team = cmp.Or(a.Team, cj.Labels[contract.LabelTeam])
			a.Channel = cmp.Or(a.Channel, cj.Annotations[contract.AnnotationNotifyChannel])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing CronJobs: %w", err)
	}
	// The team's channel is where its alerts go (kube generate's slack:).
	err = eachItem(ctx, func(o metav1.ListOptions) (runtime.Object, error) {
		return c.Deploy.Dynamic.Resource(alertmanagerConfigs).Namespace("").List(ctx, o)
	}, sel, func(obj runtime.Object) {
		o := obj.(*unstructured.Unstructured)
		if a := byApplySet[o.GetLabels()[contract.LabelPartOf]]; a != nil && a.Channel == "" {
			a.Channel = firstSlackChannel(o.Object)
		}
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("listing AlertmanagerConfigs: %w", err)
	}
	list := make([]FleetApp, 0, len(apps))
	for _, a := range apps {
		a.Status = deploy.Verdict(a.statuses...)
		list = append(list, *a)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].App != list[j].App {
			return list[i].App < list[j].App
		}
		return list[i].Namespace < list[j].Namespace
	})
	return list, nil
}

// listPageSize bounds what one list call brings: a large cluster's Secrets or
// Deployments come in pages, not in one answer held whole.
const listPageSize = 500

// eachItem lists page by page (limit and continue) and calls fn on each item.
func eachItem(ctx context.Context, list func(metav1.ListOptions) (runtime.Object, error), opts metav1.ListOptions, fn func(runtime.Object)) error {
	p := pager.New(pager.SimplePageFunc(list))
	p.PageSize = listPageSize
	return p.EachListItem(ctx, opts, func(obj runtime.Object) error {
		fn(obj)
		return nil
	})
}

var alertmanagerConfigs = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1alpha1", Resource: "alertmanagerconfigs"}

func firstSlackChannel(obj map[string]any) string {
	receivers, _, _ := unstructured.NestedSlice(obj, "spec", "receivers")
	for _, r := range receivers {
		slack, _, _ := unstructured.NestedSlice(r.(map[string]any), "slackConfigs")
		for _, sc := range slack {
			if ch, _ := sc.(map[string]any)["channel"].(string); ch != "" {
				return ch
			}
		}
	}
	return ""
}

// AppView is everything the app page shows.
type AppView struct {
	Cluster  string
	Status   *deploy.AppStatus
	History  []deploy.Revision
	Forks    []forks.View
	CronJobs []CronJobView
	// Alerts are the rules firing or pending in the app's namespace, and
	// SLOs its objectives with their budgets (Prometheus).
	Alerts        []monitoring.RuleState
	SLOs          []slo.Status
	Monitoring    bool
	ForksErr      string
	CronErr       string
	StatusErr     string
	MonitoringErr string
}

// CronJobView is a CronJob with its last run's outcome.
type CronJobView struct {
	Name         string
	Schedule     string
	Suspended    bool
	LastSchedule time.Time
	LastOutcome  string // succeeded, failed, running, or "" before the first run
	LastJob      string
	Channel      string
}

// App reads one app: `kube status`'s view, its history, the forks of its
// namespace, its CronJobs with their last outcome, and from Prometheus the
// alerts firing in its namespace and its SLO budgets.
func App(ctx context.Context, c Cluster, namespace, app string, now time.Time) *AppView {
	v := &AppView{Cluster: c.Name}
	st, err := c.Deploy.Status(ctx, app, namespace)
	if err != nil {
		v.StatusErr = err.Error()
	}
	v.Status = st
	if v.History, err = c.Deploy.History(ctx, app, namespace); err != nil && v.StatusErr == "" {
		v.StatusErr = err.Error()
	}
	if c.Forks != nil {
		fs, err := c.Forks.List(ctx, namespace)
		if err != nil {
			v.ForksErr = err.Error()
		}
		v.Forks = forks.Views(c.Name, fs)
	}
	v.CronJobs, err = cronJobs(ctx, c, namespace, app)
	if err != nil {
		v.CronErr = err.Error()
	}
	if c.Monitoring != nil && c.Monitoring.Prometheus != "" {
		v.Monitoring = true
		rules, err := c.Monitoring.Rules(ctx, namespace)
		for _, r := range rules {
			if r.State != "inactive" {
				v.Alerts = append(v.Alerts, r)
			}
		}
		if err == nil {
			v.SLOs, err = slo.Statuses(ctx, c.Monitoring, namespace, app, now)
		}
		if err != nil {
			v.MonitoringErr = err.Error()
		}
	}
	return v
}

// Forks lists the forks of every cluster.
func Forks(ctx context.Context, clusters []Cluster) ([]forks.View, []string) {
	var out []forks.View
	var errs []string
	for _, c := range clusters {
		if c.Forks == nil {
			continue
		}
		fs, err := c.Forks.List(ctx, "")
		if err != nil {
			errs = append(errs, c.Name+": "+err.Error())
			continue
		}
		out = append(out, forks.Views(c.Name, fs)...)
	}
	return out, errs
}

func cronJobs(ctx context.Context, c Cluster, namespace, app string) ([]CronJobView, error) {
	sel := metav1.ListOptions{LabelSelector: contract.LabelPartOf + "=" + deploy.ApplySetID(app, namespace)}
	list, err := c.Deploy.Kube.BatchV1().CronJobs(namespace).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	jobs, err := c.Deploy.Kube.BatchV1().Jobs(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []CronJobView
	for _, cj := range list.Items {
		v := CronJobView{Name: cj.Name, Schedule: cj.Spec.Schedule, Suspended: cj.Spec.Suspend != nil && *cj.Spec.Suspend,
			Channel: cj.Annotations[contract.AnnotationNotifyChannel]}
		if cj.Status.LastScheduleTime != nil {
			v.LastSchedule = cj.Status.LastScheduleTime.Time
		}
		if last := lastJob(jobs.Items, cj.UID); last != nil {
			v.LastJob, v.LastOutcome = last.Name, outcome(last)
		}
		out = append(out, v)
	}
	return out, nil
}

func lastJob(jobs []batchv1.Job, owner types.UID) *batchv1.Job {
	var last *batchv1.Job
	for i := range jobs {
		j := &jobs[i]
		owned := slices.ContainsFunc(j.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == owner })
		if owned && (last == nil || j.CreationTimestamp.After(last.CreationTimestamp.Time)) {
			last = j
		}
	}
	return last
}

func outcome(j *batchv1.Job) string {
	if o := contract.JobOutcome(j); o != "" {
		return o
	}
	return "running"
}

// images of a revision, short: registry paths are long and the tag matters.
func shortImage(image string) string {
	if i := strings.LastIndex(image, "/"); i >= 0 {
		return image[i+1:]
	}
	return image
}
