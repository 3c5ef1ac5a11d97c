// Package slacktest is a Slack incoming webhook for tests: it answers with the
// statuses it is given and records what it received.
package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Server answers with Statuses in turn (the last one repeats; none: 200) and
// records the texts of the messages it accepted.
type Server struct {
	mu       sync.Mutex
	statuses []int
	// Header is added to every answer (Retry-After).
	Header http.Header
	texts  []string
	times  []time.Time
}

// New starts a webhook; its URL has the shape of Slack's, with a secret part
// that tests can look for in what kube prints.
func New(t testing.TB, statuses ...int) (*Server, string) {
	s := &Server{statuses: statuses}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL + "/services/T000/B000/SECRETPART"
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	status := http.StatusOK
	if len(s.statuses) > 0 {
		status = s.statuses[0]
	}
	if len(s.statuses) > 1 {
		s.statuses = s.statuses[1:]
	}
	for k, v := range s.Header {
		w.Header()[k] = v
	}
	if status == http.StatusOK {
		var m struct{ Text string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		s.texts = append(s.texts, m.Text)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("answer token=xoxb-123456789012-abcdef"))
}

// Texts are the texts of the messages accepted, in order.
func (s *Server) Texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.texts...)
}

// Requests is how many requests came, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}
