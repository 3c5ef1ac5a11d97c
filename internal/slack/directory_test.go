package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// slackServer answers conversations.list as Slack's Web API does: a bearer
// token, pages of two channels linked by cursors, and one 429 first.
func slackServer(t *testing.T, token string, channels []Channel) *httptest.Server {
	t.Helper()
	var limited atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/conversations.list" {
			http.NotFound(w, r)
			return
		}
		if !limited.Swap(true) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if r.Header.Get("Authorization") == "Bearer xoxb-public-only" {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "missing_scope", "needed": "groups:read"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			start = int(c[0] - '0')
		}
		end := min(start+2, len(channels))
		next := ""
		if end < len(channels) {
			next = string(rune('0' + end))
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": channels[start:end], "response_metadata": map[string]string{"next_cursor": next}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSlackChannels(t *testing.T) {
	all := []Channel{{ID: "C1", Name: "payments-alerts"}, {ID: "C2", Name: "old", Archived: true}, {ID: "G3", Name: "secret-team"}}
	srv := slackServer(t, "xoxb-right", all)
	var waited []time.Duration
	wait := func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	got, err := (&Directory{API: srv.URL + "/api/", Token: "xoxb-right", Wait: wait}).Channels(context.Background())
	if err != nil || len(got) != 3 || got[2].ID != "G3" {
		t.Fatalf("Channels = %v, %v; want all three pages' channels", got, err)
	}
	if len(waited) != 1 || waited[0] != time.Second {
		t.Errorf("waited %v for Retry-After: 1", waited)
	}
	for ch, want := range map[string]string{
		"#payments-alerts": "",
		"payments-alerts":  "",
		"G3":               "",
		"#old":             "is archived",
		"#payments-alert":  "does not exist",
	} {
		if p := ChannelProblem(ch, got); (want == "") != (p == "") || !strings.Contains(p, want) {
			t.Errorf("ChannelProblem(%s) = %q, want %q", ch, p, want)
		}
	}
	_, err = (&Directory{API: srv.URL + "/api", Token: "xoxb-wrong", Wait: wait}).Channels(context.Background())
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("a wrong token: %v", err)
	}
	_, err = (&Directory{API: srv.URL + "/api", Token: "xoxb-public-only", Wait: wait}).Channels(context.Background())
	if err == nil || !strings.Contains(err.Error(), "needs the scope groups:read") {
		t.Errorf("a token without a scope: %v", err)
	}
}
