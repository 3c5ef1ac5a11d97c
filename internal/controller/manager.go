// Package controller assembles kube-controller: one controller-runtime manager
// running every platform controller (one per sub-folder): the CronJob notifier
// when it has a webhook Secret, kubefork when the Fork CRD is installed.
package controller

import (
	"fmt"
	"time"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/controller/cronjobnotifier"
	"github.com/kube-idp/kube/internal/controller/fork"
	"github.com/kube-idp/kube/internal/slack"
)

// Options configure the manager.
type Options struct {
	MetricsAddr    string // "0" disables the metrics endpoint
	HealthAddr     string // "0" disables the health endpoints
	LeaderElection bool
	// LeaderElectionNamespace is where the lease lives (required outside a pod).
	LeaderElectionNamespace string
	Notifier                cronjobnotifier.Config
	// SlackBaseDelay is the first retry delay of Slack deliveries (default 1 s).
	SlackBaseDelay time.Duration
	// Now is the fork controller's clock (default time.Now); tests move it.
	Now func() time.Time
	// Namespace limits every controller to one namespace ("" watches all).
	Namespace string
	// Restartable allows a second manager in the same process (tests restart it).
	Restartable bool
}

// NewManager builds the manager with every controller registered.
func NewManager(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, forkv1.AddToScheme, gwv1.Install, istiov1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	cacheOpts := cache.Options{}
	if o.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.HealthAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "kube-controller.kube-idp.dev",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		Controller:              config.Controller{SkipNameValidation: ptr.To(o.Restartable)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if o.HealthAddr != "0" && o.HealthAddr != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	log := ctrl.Log.WithName("setup")
	if o.Notifier.WebhookSecret.Name != "" {
		if err := setupNotifier(mgr, cfg, o); err != nil {
			return nil, err
		}
	} else {
		log.Info("no --webhook-secret: the CronJob notifier is off")
	}
	if fork.Served(mgr.GetRESTMapper(), forkv1.GroupVersion.WithKind("Fork")) {
		f := &fork.Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("kube-fork"), Now: o.Now}
		if err := f.SetupWithManager(mgr); err != nil {
			return nil, err
		}
		log.Info("kubefork on", "gatewayAPI", f.GatewayAPI, "istio", f.Istio)
	} else {
		log.Info("the Fork CRD is not installed (config/crd): kubefork is off")
	}
	return mgr, nil
}

func setupNotifier(mgr ctrl.Manager, cfg *rest.Config, o Options) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	notifier := &cronjobnotifier.Reconciler{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Kube:     kube,
		Recorder: mgr.GetEventRecorder("kube-controller"),
		Slack:    &slack.Client{BaseDelay: o.SlackBaseDelay},
		Config:   o.Notifier,
	}
	if err := notifier.SetupWithManager(mgr); err != nil {
		return err
	}
	return (&cronjobnotifier.ScheduleReconciler{Reconciler: notifier}).SetupWithManager(mgr)
}
