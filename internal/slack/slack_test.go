package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// server answers with the given statuses in turn (the last one repeats) and
// records the messages it received.
type server struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	got      []Message
	times    []time.Time
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	status := s.statuses[0]
	if len(s.statuses) > 1 {
		s.statuses = s.statuses[1:]
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	if status == http.StatusOK {
		var m Message
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		s.got = append(s.got, m)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("answer token=xoxb-123456789012-abcdef"))
}

func newServer(t *testing.T, statuses ...int) (*server, string) {
	s := &server{statuses: statuses}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL + "/services/T000/B000/SECRETPART"
}

func TestRetriesServerErrorsThenDeliversOnce(t *testing.T) {
	s, url := newServer(t, 500, 500, 500, 200)
	var retries []string
	c := &Client{BaseDelay: time.Millisecond, OnRetry: func(_ int, _ time.Duration, reason string) { retries = append(retries, reason) }}
	n, err := c.Send(context.Background(), url, Message{Text: "job failed"})
	if err != nil || n != 4 {
		t.Fatalf("Send() = %d, %v", n, err)
	}
	if len(s.got) != 1 || s.got[0].Text != "job failed" {
		t.Fatalf("received %+v, want exactly one message", s.got)
	}
	if strings.Join(retries, ",") != "500,500,500" {
		t.Fatalf("retries %v", retries)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	s, url := newServer(t, 429, 200)
	s.header = http.Header{"Retry-After": []string{"1"}}
	var waited []time.Duration
	c := &Client{BaseDelay: time.Millisecond, Wait: func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }}
	if _, err := c.Send(context.Background(), url, Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(waited) != 1 || waited[0] != time.Second || len(s.times) != 2 {
		t.Fatalf("waited %v between %d attempts, want the server's Retry-After of 1s once", waited, len(s.times))
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
	s.header = http.Header{"Retry-After": []string{"3600"}}
	c := &Client{BaseDelay: time.Second}
	err := c.Post(context.Background(), url, Message{Text: "x"}, 1)
	var retry *RetryableError
	if !errors.As(err, &retry) || retry.Wait != 5*time.Minute || retry.Reason != "429" || len(s.times) != 1 {
		t.Fatalf("Post() = %v (%+v), %d requests", err, retry, len(s.times))
	}
	s2, url2 := newServer(t, 503)
	if err := c.Post(context.Background(), url2, Message{Text: "x"}, 3); !errors.As(err, &retry) || retry.Wait != 4*time.Second || len(s2.times) != 1 {
		t.Fatalf("Post() attempt 3 = %v (%+v)", err, retry)
	}
}
