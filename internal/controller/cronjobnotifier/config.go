// Package cronjobnotifier tells a CronJob's owning team, on Slack, when one of its
// runs fails and when it recovers, exactly once per event even across controller
// restarts, and without losing a message while Slack is down.
package cronjobnotifier

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-idp/kube/internal/contract"
)

// Annotations read and written by the notifier.
const (
	// AnnotationChannel on a CronJob (written by kube generate) names its Slack channel.
	AnnotationChannel = contract.AnnotationNotifyChannel
	// AnnotationOptIn on a Job not owned by a CronJob makes it notify too.
	AnnotationOptIn = contract.AnnotationNotify
	// AnnotationState on a Job records the delivery: "pending:<kind>" once decided,
	// "sent:<kind>" once delivered, "none" when there is nothing to say, and
	// "rejected:<kind>" when Slack refused it for good.
	AnnotationState = contract.AnnotationNotification
	// AnnotationStuckAfter on a CronJob overrides how long a run may stay active
	// before "still running" is announced (a Go duration, e.g. 2h).
	AnnotationStuckAfter = contract.AnnotationNotifyAfter
	// AnnotationStuckState on a Job records the "still running" delivery, like
	// AnnotationState does for the outcome.
	AnnotationStuckState = contract.AnnotationStuckNotification
	// AnnotationLastOutcome on a CronJob is the outcome of its last finished run
	// ("failed" or "succeeded"), to announce a recovery.
	AnnotationLastOutcome = contract.AnnotationLastOutcome
	// AnnotationMissedAt on a CronJob is the schedule time of the last missed run
	// announced; the episode lasts until a run starts after it.
	AnnotationMissedAt = contract.AnnotationMissedSchedule
	// AnnotationMissedState on a CronJob records the missed-schedule delivery,
	// like AnnotationState does on a Job.
	AnnotationMissedState = contract.AnnotationMissedState
)

// Config is the notifier's cluster-wide configuration.
type Config struct {
	// Cluster is the name shown in messages.
	Cluster string
	// DefaultChannel is used when neither the CronJob nor its namespace names one.
	DefaultChannel string
	// NamespaceChannels are per-namespace defaults.
	NamespaceChannels map[string]string
	// WebhookSecret holds one key per channel (the channel name without '#') whose
	// value is that channel's incoming webhook URL. Annotations name channels, never URLs.
	WebhookSecret types.NamespacedName
	// StuckAfter is how long a run may stay active before it is announced as
	// still running (default 1h).
	StuckAfter time.Duration
	// MissedAfter is how late a scheduled run may start before it counts as
	// missed (default 2m).
	MissedAfter time.Duration
	// ConsoleURL is the web console's address (kube console, or its in-cluster
	// Service); when set, messages link to the app's page there.
	ConsoleURL string
	// Now is the clock (default time.Now); tests move it to a schedule's time.
	Now func() time.Time
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c Config) missedAfter() time.Duration {
	if c.MissedAfter > 0 {
		return c.MissedAfter
	}
	return 2 * time.Minute
}

// stuckAfter is the threshold for a CronJob's runs.
func (c Config) stuckAfter(annotations map[string]string) time.Duration {
	if d, err := time.ParseDuration(annotations[AnnotationStuckAfter]); err == nil && d > 0 {
		return d
	}
	if c.StuckAfter > 0 {
		return c.StuckAfter
	}
	return time.Hour
}

// channel routes a CronJob's notifications.
func (c Config) channel(namespace string, annotations map[string]string) string {
	if ch := annotations[AnnotationChannel]; ch != "" {
		return ch
	}
	if ch := c.NamespaceChannels[namespace]; ch != "" {
		return ch
	}
	return c.DefaultChannel
}

// webhookKey is the Secret key of a channel: Secret keys cannot hold '#'.
func webhookKey(channel string) string { return strings.TrimPrefix(channel, "#") }
