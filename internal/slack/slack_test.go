package slack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/slack/slacktest"
)

func newServer(t *testing.T, statuses ...int) (*slacktest.Server, string) {
	return slacktest.New(t, statuses...)
}

func TestRetriesServerErrorsThenDeliversOnce(t *testing.T) {
	s, url := newServer(t, 500, 500, 500, 200)
	var retries []string
	c := &Client{BaseDelay: time.Millisecond, OnRetry: func(_ int, _ time.Duration, reason string) { retries = append(retries, reason) }}
	n, err := c.Send(context.Background(), url, Message{Text: "job failed"})
	if err != nil || n != 4 {
		t.Fatalf("Send() = %d, %v", n, err)
	}
	if got := s.Texts(); len(got) != 1 || got[0] != "job failed" {
		t.Fatalf("received %+v, want exactly one message", got)
	}
	if strings.Join(retries, ",") != "500,500,500" {
		t.Fatalf("retries %v", retries)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	s, url := newServer(t, 429, 200)
	s.Header = http.Header{"Retry-After": []string{"1"}}
	var waited []time.Duration
	c := &Client{BaseDelay: time.Millisecond, Wait: func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }}
	if _, err := c.Send(context.Background(), url, Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(waited) != 1 || waited[0] != time.Second || s.Requests() != 2 {
		t.Fatalf("waited %v between %d attempts, want the server's Retry-After of 1s once", waited, s.Requests())
	}
}

func TestPermanentErrorStopsAndHidesSecrets(t *testing.T) {
	_, url := newServer(t, 404)
	c := &Client{BaseDelay: time.Millisecond}
	n, err := c.Send(context.Background(), url, Message{Text: "x"})
	var perm *PermanentError
	if !errors.As(err, &perm) || perm.Status != 404 || n != 1 {
		t.Fatalf("Send() = %d, %v", n, err)
	}
	if strings.Contains(err.Error(), "SECRETPART") || strings.Contains(err.Error(), "xoxb-") {
		t.Fatalf("error leaks a secret: %v", err)
	}
}

func TestGivesUpAfterMaxAttemptsWithoutLeakingURL(t *testing.T) {
	c := &Client{BaseDelay: time.Millisecond, MaxAttempts: 3}
	// Nothing listens there: a network error, retried, then reported.
	n, err := c.Send(context.Background(), "http://127.0.0.1:1/services/SECRETPART", Message{Text: "x"})
	if err == nil || n != 3 || strings.Contains(err.Error(), "SECRETPART") {
		t.Fatalf("Send() = %d, %v", n, err)
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	c := &Client{BaseDelay: time.Second, MaxDelay: 5 * time.Second}
	var got []time.Duration
	for i := 1; i <= 5; i++ {
		got = append(got, c.backoff(i))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff = %v, want %v", got, want)
		}
	}
}

// Post makes one attempt and says how long to wait: a server's Retry-After,
// capped (a controller requeues rather than sleeping for an hour), else backoff.
func TestPostSaysHowLongToWait(t *testing.T) {
	s, url := newServer(t, 429)
	s.Header = http.Header{"Retry-After": []string{"3600"}}
	c := &Client{BaseDelay: time.Second}
	err := c.Post(context.Background(), url, Message{Text: "x"}, 1)
	var retry *RetryableError
	if !errors.As(err, &retry) || retry.Wait != 5*time.Minute || retry.Reason != "429" || s.Requests() != 1 {
		t.Fatalf("Post() = %v (%+v), %d requests", err, retry, s.Requests())
	}
	s2, url2 := newServer(t, 503)
	if err := c.Post(context.Background(), url2, Message{Text: "x"}, 3); !errors.As(err, &retry) || retry.Wait != 4*time.Second || s2.Requests() != 1 {
		t.Fatalf("Post() attempt 3 = %v (%+v)", err, retry)
	}
}
