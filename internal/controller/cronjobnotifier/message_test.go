package cronjobnotifier

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRouting(t *testing.T) {
	c := Config{DefaultChannel: "#ops", NamespaceChannels: map[string]string{"billing": "#payments"}}
	for _, tc := range []struct {
		ns          string
		annotations map[string]string
		want        string
	}{
		{"billing", map[string]string{AnnotationChannel: "#invoices"}, "#invoices"},
		{"billing", nil, "#payments"},
		{"other", nil, "#ops"},
	} {
		if got := c.channel(tc.ns, tc.annotations); got != tc.want {
			t.Errorf("channel(%s, %v) = %s, want %s", tc.ns, tc.annotations, got, tc.want)
		}
	}
	if webhookKey("#payments") != "payments" {
		t.Error("webhook keys drop the #")
	}
}

func TestMessageRedactsAndTruncatesLogs(t *testing.T) {
	log := strings.Repeat("x", 3000) + "\nconnecting with password=hunter2hunter2\n"
	m := run{Cluster: "prod", Namespace: "billing", CronJob: "invoices", Job: "invoices-1", Kind: "failed",
		Reason: "BackoffLimitExceeded", Duration: 90 * time.Second, LogTail: log}.message()
	data, _ := json.Marshal(m)
	s := string(data)
	for _, want := range []string{"CronJob billing/invoices failed", "invoices-1", "1m30s", "BackoffLimitExceeded", "kube -c prod kubectl logs -n billing job/invoices-1", "[REDACTED]"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if strings.Contains(s, "hunter2hunter2") || strings.Count(s, "x") > maxLog+200 {
		t.Errorf("log not redacted or not truncated (%d x)", strings.Count(s, "x"))
	}
}

// With the console's URL configured, a message links to the app's page.
func TestMessageLinksToTheConsole(t *testing.T) {
	m := run{Cluster: "prod", Namespace: "billing", CronJob: "invoices", Job: "invoices-1", Kind: "failed",
		Console: "https://console.example.com/clusters/prod/namespaces/billing/apps/billing"}.message()
	data, _ := json.Marshal(m)
	if !strings.Contains(string(data), "https://console.example.com/clusters/prod/namespaces/billing/apps/billing|Open in the console") {
		t.Errorf("no console link: %s", data)
	}
	m = run{Cluster: "prod", Namespace: "billing", CronJob: "invoices", Kind: "missed"}.message()
	if data, _ := json.Marshal(m); strings.Contains(string(data), "console") {
		t.Errorf("a console link without a console: %s", data)
	}
}
