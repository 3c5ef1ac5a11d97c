package cronjobnotifier

import (
	"fmt"
	"strings"
	"time"

	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/slack"
)

// run describes a finished Job for a message.
type run struct {
	Cluster, Namespace, CronJob, Job string
	Kind                             string // failed, recovered, stuck or missed
	Reason                           string
	Duration                         time.Duration // of the run; for missed, how late
	LogTail                          string
	Console                          string // the app's page in the web console, if known
}

// subject names what the message is about, for events.
func (r run) subject() string {
	if r.Job == "" {
		return "CronJob " + r.CronJob
	}
	return "job " + r.Job
}

// maxLog bounds the log excerpt (Slack sections hold 3,000 characters).
const maxLog = 2500

func (r run) message() slack.Message {
	title := fmt.Sprintf(":x: CronJob %s/%s failed", r.Namespace, r.CronJob)
	switch r.Kind {
	case "recovered":
		title = fmt.Sprintf(":white_check_mark: CronJob %s/%s recovered", r.Namespace, r.CronJob)
	case "missed":
		title = fmt.Sprintf(":warning: CronJob %s/%s missed its schedule", r.Namespace, r.CronJob)
	case "stuck":
		title = fmt.Sprintf(":hourglass: CronJob %s/%s is still running after %s", r.Namespace, r.CronJob, r.Duration.Round(time.Second))
	}
	durationLabel := "Duration"
	if r.Kind == "missed" {
		durationLabel = "Late by"
	}
	field := func(k, v string) *slack.Text { return &slack.Text{Type: "mrkdwn", Text: "*" + k + "*\n" + v} }
	blocks := []slack.Block{
		{Type: "section", Text: &slack.Text{Type: "mrkdwn", Text: "*" + title + "*"}},
		{Type: "section", Fields: []*slack.Text{
			field("Cluster", r.Cluster), field("Namespace", r.Namespace),
			field("CronJob", r.CronJob), field("Job", orDash(r.Job)),
			field(durationLabel, r.Duration.Round(time.Second).String()), field("Reason", orDash(r.Reason)),
		}},
	}
	if r.LogTail != "" {
		log := secrets.Redact(r.LogTail)
		if len(log) > maxLog {
			log = "…" + log[len(log)-maxLog:]
		}
		blocks = append(blocks, slack.Block{Type: "section", Text: &slack.Text{Type: "mrkdwn", Text: "*Last log lines*\n```" + strings.ReplaceAll(log, "```", "'''") + "```"}})
	}
	more := fmt.Sprintf("kube -c %s kubectl logs -n %s job/%s", r.Cluster, r.Namespace, r.Job)
	if r.Job == "" {
		more = fmt.Sprintf("kube -c %s kubectl describe cronjob -n %s %s", r.Cluster, r.Namespace, r.CronJob)
	}
	moreText := "More: `" + more + "`"
	if r.Console != "" {
		moreText += "  ·  <" + r.Console + "|Open in the console>"
	}
	blocks = append(blocks, slack.Block{Type: "section", Text: &slack.Text{Type: "mrkdwn", Text: moreText}})
	return slack.Message{Text: title, Blocks: blocks}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
