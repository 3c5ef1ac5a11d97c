package cronjobnotifier

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// notifications counts deliveries by kind (failed, recovered, stuck) and
	// result (sent, rejected, error, no_channel, no_webhook).
	notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_cronjob_notifications_total",
		Help: "CronJob notifications by kind and result.",
	}, []string{"kind", "result"})
	// retries counts Slack retries by reason (HTTP status or network).
	retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_cronjob_notification_retries_total",
		Help: "Retries of Slack deliveries by reason.",
	}, []string{"reason"})
	// pending is the number of notifications decided but not yet delivered.
	pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_cronjob_notifications_pending",
		Help: "Notifications decided but not delivered yet.",
	})
)

func init() {
	metrics.Registry.MustRegister(notifications, retries, pending)
}

// OnRetry is the slack.Client hook that counts retries.
func OnRetry(_ int, _ time.Duration, reason string) { retries.WithLabelValues(reason).Inc() }

// pendingSet tracks the Jobs whose notification is decided but not delivered.
type pendingSet struct{ m sync.Map }

func (p *pendingSet) set(key string, isPending bool) {
	if isPending {
		if _, loaded := p.m.LoadOrStore(key, true); !loaded {
			pending.Inc()
		}
		return
	}
	if _, loaded := p.m.LoadAndDelete(key); loaded {
		pending.Dec()
	}
}

// attemptCounter counts failed delivery attempts by notification.
type attemptCounter struct {
	mu sync.Mutex
	m  map[string]int
}

func (a *attemptCounter) get(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[key]
}

func (a *attemptCounter) inc(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]int{}
	}
	a.m[key]++
	return a.m[key]
}

func (a *attemptCounter) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, key)
}
