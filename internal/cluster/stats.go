package cluster

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// EnvAPIStats, when set, makes kube count its API requests and print the counts
// by verb when the command ends (bench/deploy.sh uses it).
const EnvAPIStats = "KUBE_API_STATS"

var stats struct {
	sync.Mutex
	byVerb map[string]int
}

type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	verb := r.Method
	if r.Method == http.MethodGet && strings.Contains(r.URL.RawQuery, "watch=true") {
		verb = "WATCH"
	}
	stats.Lock()
	stats.byVerb[verb]++
	stats.Unlock()
	return t.next.RoundTrip(r)
}

func countRequests(cfg *rest.Config) {
	if os.Getenv(EnvAPIStats) == "" {
		return
	}
	stats.Lock()
	if stats.byVerb == nil {
		stats.byVerb = map[string]int{}
	}
	stats.Unlock()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt} })
}

// APIStats is "api requests: N (GET a, PATCH b, ...)", or "" when not counting.
func APIStats() string {
	stats.Lock()
	defer stats.Unlock()
	if stats.byVerb == nil {
		return ""
	}
	total := 0
	var parts []string
	for v, n := range stats.byVerb {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", v, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("api requests: %d (%s)", total, strings.Join(parts, ", "))
}
