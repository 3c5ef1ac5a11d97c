package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A misspelt channel fails kube alerts channels at the line that sets it,
// and the token is neither required on the command line nor printed.
func TestAlertsChannelsFailsOnAMissingChannel(t *testing.T) {
	isolate(t)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer xoxb-read-only" {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": []map[string]any{
			{"id": "C1", "name": "payments-alerts"}, {"id": "C2", "name": "payments-oncall"}}})
	}))
	defer slack.Close()
	dir := t.TempDir()
	specText := `app: payments
slack: "#payments-alerts"
generates:
- alerts:
    clusters: [qa, prod]
    channels:
      critical: {default: "#payments-alerts", prod: "#payments-oncal"}
`
	if err := os.WriteFile(filepath.Join(dir, "kube-generate.yaml"), []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"alerts", "channels", dir, "--slack-api", slack.URL}

	t.Setenv(slackTokenEnv, "")
	if code, _, errOut := run(t, args...); code != exitUsage || !strings.Contains(errOut, slackTokenEnv) {
		t.Errorf("without a token: exit %d, %s", code, errOut)
	}

	t.Setenv(slackTokenEnv, "xoxb-read-only")
	code, out, errOut := run(t, args...)
	want := filepath.Join(dir, "kube-generate.yaml") + `:7:47: critical alerts on prod go to #payments-oncal, which does not exist`
	if code != exitFailure || !strings.Contains(out, want) || !strings.Contains(out, "4 channel use(s) checked, 1 with a problem") {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errOut)
	}
	if strings.Contains(out+errOut, "xoxb-read-only") {
		t.Errorf("the token was printed:\n%s%s", out, errOut)
	}

	code, out, _ = run(t, append(args, "-o", "json")...)
	var checks []ChannelCheck
	if err := json.Unmarshal([]byte(out), &checks); err != nil || code != exitFailure || len(checks) != 4 {
		t.Fatalf("-o json: exit %d, %v: %s", code, err, out)
	}
	if c := checks[2]; c.Cluster != "prod" || c.Severity != "critical" || c.Line != 7 || c.Problem == "" {
		t.Errorf("prod's critical channel: %+v", c)
	}
	if c := checks[3]; c.Severity != "warning" || c.Channel != "#payments-alerts" || c.Line != 2 || c.Problem != "" {
		t.Errorf("prod's warning channel, defaulted from slack: %+v", c)
	}
}
