package fork

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// readySeconds is the time from a Fork's creation to its first Ready.
	readySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kube_fork_ready_seconds",
		Help:    "Time from a Fork's creation to its first Ready condition.",
		Buckets: []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 120},
	})
	// expired counts Forks deleted because their TTL passed.
	expired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_fork_expired_total",
		Help: "Forks deleted because their TTL passed.",
	})
)

func init() { metrics.Registry.MustRegister(readySeconds, expired) }
