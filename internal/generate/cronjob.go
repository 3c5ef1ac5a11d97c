package generate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/spec"
	"github.com/kube-idp/kube/internal/strictyaml"
)

var cronJobKind = spec.Kind{Key: "cronjob", Doc: "A CronJob; failures are announced to the app's Slack channel by the CronJob notifier.",
	New: func() spec.GeneratorSpec { return &CronJobGen{} }}

// CronJobGen generates a CronJob.
type CronJobGen struct {
	spec.Common       `yaml:",inline"`
	spec.Container    `yaml:",inline"`
	Name              string                  `yaml:"name" required:"true" doc:"CronJob name."`
	Schedule          spec.PerCluster[string] `yaml:"schedule" required:"true" doc:"Cron schedule (5 fields), per cluster."`
	TimeZone          string                  `yaml:"timeZone" doc:"IANA time zone of the schedule. Default: Etc/UTC."`
	ConcurrencyPolicy string                  `yaml:"concurrencyPolicy" doc:"Allow, Forbid or Replace. Default: Forbid."`
	Deadline          string                  `yaml:"deadline" doc:"Longest a run may take (Go duration, e.g. 30m) before it is stopped and reported. Default: 1h."`
	Retries           int32                   `yaml:"retries" doc:"Pod retries before the run fails. Default: 0."`
	History           *History                `yaml:"history" doc:"How many finished Jobs to keep."`
	Suspend           spec.PerCluster[bool]   `yaml:"suspend" doc:"Suspend the schedule, per cluster."`
	Notify            string                  `yaml:"notify" doc:"Slack channel for failures. Default: the file's slack."`
	Loc               spec.Loc
}

// History limits of a CronJob.
type History struct {
	Succeeded int32 `yaml:"succeeded" doc:"Default: 3."`
	Failed    int32 `yaml:"failed" doc:"Default: 3."`
	Loc       spec.Loc
}

func (c *CronJobGen) Base() *spec.Common { return &c.Common }
func (c *CronJobGen) Describe() string   { return fmt.Sprintf("cronjob %q", c.Name) }

func (c *CronJobGen) Default(f *spec.File) {
	spec.Default(&c.TimeZone, "Etc/UTC")
	spec.Default(&c.ConcurrencyPolicy, "Forbid")
	spec.Default(&c.Deadline, "1h")
	spec.Default(&c.Notify, f.Slack)
	if c.History == nil {
		c.History = &History{}
	}
	spec.Default(&c.History.Succeeded, 3)
	spec.Default(&c.History.Failed, 3)
}

// maxCronJobName is the API server's limit: a CronJob's Jobs are named
// <name>-<11 characters>, within 63.
const maxCronJobName = 52

func (c *CronJobGen) Validate(v *spec.Validator) {
	v.Process(c.Loc, &c.Common, &c.Container, "cronjob", "CronJob", c.Name)
	v.PerCluster(c.Schedule.Loc)
	v.PerCluster(c.Suspend.Loc)
	for _, cl := range append([]string{"default"}, strictyaml.Keys(c.Schedule.Clusters)...) {
		s := c.Schedule.For(cl)
		if cl == "default" && s == "" && len(c.Schedule.Clusters) > 0 {
			continue // only per-cluster values
		}
		if msg := cronProblem(s); msg != "" {
			v.Errorf(c.Loc.At("schedule"), "schedule %q (%s) %s", s, spec.ClusterLabel(cl), msg)
		}
	}
	if len(c.Name) > maxCronJobName {
		v.Errorf(c.Loc.At("name"), "cronjob name %q has %d characters; the API server allows %d (its Jobs get an 11-character suffix)", c.Name, len(c.Name), maxCronJobName)
	}
	if c.History.Succeeded < 0 || c.History.Failed < 0 {
		v.Errorf(c.History.Loc.Pos, "history limits must not be negative")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		v.Errorf(c.Loc.At("timeZone"), "timeZone %q is not an IANA time zone such as Asia/Tokyo", c.TimeZone)
	}
	if !slices.Contains([]string{"Allow", "Forbid", "Replace"}, c.ConcurrencyPolicy) {
		v.Errorf(c.Loc.At("concurrencyPolicy"), "concurrencyPolicy %q is not one of Allow, Forbid, Replace", c.ConcurrencyPolicy)
	}
	if dl, err := time.ParseDuration(c.Deadline); err != nil || dl < time.Second {
		v.Errorf(c.Loc.At("deadline"), "deadline %q is not a duration such as 30m or 2h", c.Deadline)
	}
	if _, set := c.Loc.Keys["notify"]; set && !strings.HasPrefix(c.Notify, "#") {
		v.Errorf(c.Loc.At("notify"), "notify %q must be a Slack channel starting with #", c.Notify)
	}
	if c.Retries < 0 {
		v.Errorf(c.Loc.At("retries"), "retries must not be negative")
	}
}

// cronProblem says what is wrong with a schedule ("" when nothing), using the
// parser of the CronJob controller itself (robfig/cron's standard parser).
func cronProblem(s string) string {
	if strings.Contains(s, "TZ=") {
		return "must not set a time zone inside the schedule: use timeZone"
	}
	if _, err := cron.ParseStandard(s); err != nil {
		return fmt.Sprintf("is not a valid cron schedule (%v); e.g. \"0 3 * * *\" or @daily", err)
	}
	return ""
}

func (c *CronJobGen) Objects(b *builder) ([]runtime.Object, error) {
	deadline, _ := time.ParseDuration(c.Deadline) // validated
	pod := b.podSpec(c.Name, &c.Container)
	pod.RestartPolicy = corev1.RestartPolicyNever
	m := b.meta(c.Name, c.Name)
	if c.Notify != "" {
		m.Annotations = map[string]string{contract.AnnotationNotifyChannel: c.Notify}
	}
	return []runtime.Object{&batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: m,
		Spec: batchv1.CronJobSpec{
			Schedule:                   c.Schedule.For(b.cluster),
			TimeZone:                   ptr.To(c.TimeZone),
			ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(c.ConcurrencyPolicy),
			StartingDeadlineSeconds:    ptr.To[int64](300),
			Suspend:                    ptr.To(c.Suspend.For(b.cluster)),
			SuccessfulJobsHistoryLimit: ptr.To(c.History.Succeeded),
			FailedJobsHistoryLimit:     ptr.To(c.History.Failed),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: b.meta(c.Name, c.Name).Labels},
				Spec: batchv1.JobSpec{
					ActiveDeadlineSeconds: ptr.To(int64(deadline.Seconds())),
					BackoffLimit:          ptr.To(c.Retries),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: b.meta(c.Name, c.Name).Labels},
						Spec:       pod,
					},
				},
			},
		},
	}}, nil
}
