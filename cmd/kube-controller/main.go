// Command kube-controller runs the platform's in-cluster controllers in one
// manager: the CronJob notifier and kubefork. In a pod it uses the pod's service
// account; outside, --kubeconfig (from controller-runtime) or $KUBECONFIG.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kube-idp/kube/internal/controller"
	"github.com/kube-idp/kube/internal/forkagent"
	"github.com/kube-idp/kube/internal/version"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		agent(os.Args[2:])
		return
	}
	var o controller.Options
	var showVersion bool
	var webhooks, nsChannels string
	flag.BoolVar(&showVersion, "version", false, "print the version and exit")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Prometheus metrics address (0 disables)")
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "healthz/readyz address (0 disables)")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader, for more than one replica")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease (default: the pod's)")
	flag.StringVar(&o.Namespace, "namespace", "", "watch only this namespace (default: all)")
	flag.StringVar(&o.Notifier.Cluster, "cluster-name", "", "cluster name shown in notifications")
	flag.StringVar(&o.Notifier.DefaultChannel, "default-channel", "", "Slack channel when neither the CronJob nor its namespace names one")
	flag.StringVar(&nsChannels, "namespace-channels", "", "per-namespace channels: ns1=#chan,ns2=#other")
	flag.DurationVar(&o.Notifier.StuckAfter, "stuck-after", time.Hour, "announce a run still active after this long (CronJob annotation kube-idp.dev/notify-after overrides)")
	flag.DurationVar(&o.Notifier.MissedAfter, "missed-after", 2*time.Minute, "announce a scheduled run that has not started this long after its time")
	flag.StringVar(&o.Notifier.ConsoleURL, "console-url", "", "the web console's URL: notifications link to the app's page there (its cluster name is --cluster-name)")
	flag.StringVar(&webhooks, "webhook-secret", "", "NAMESPACE/NAME of the Secret mapping channels (without #) to webhook URLs; without it the CronJob notifier is off")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	fmt.Fprintf(os.Stderr, "kube-controller %s (%s)\n", version.String(), version.GoVersion())
	if showVersion {
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	if webhooks != "" {
		ns, name, ok := strings.Cut(webhooks, "/")
		if !ok || ns == "" || name == "" {
			fail("--webhook-secret: " + webhooks + " is not NAMESPACE/NAME")
		}
		o.Notifier.WebhookSecret = types.NamespacedName{Namespace: ns, Name: name}
	}
	o.Notifier.NamespaceChannels = map[string]string{}
	for _, pair := range strings.Split(nsChannels, ",") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || !strings.HasPrefix(v, "#") {
			fail("--namespace-channels: " + pair + " is not NAMESPACE=#channel")
		}
		o.Notifier.NamespaceChannels[k] = v
	}
	mgr, err := controller.NewManager(ctrl.GetConfigOrDie(), o)
	if err != nil {
		fail(err.Error())
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fail(err.Error())
	}
}

// agent runs the fork agent of a local workload's pod (kube fork connect).
func agent(args []string) {
	fs := flag.NewFlagSet("kube-controller agent", flag.ExitOnError)
	var o forkagent.Options
	var ports, allow string
	fs.StringVar(&o.Control, "control", "127.0.0.1:15999", "control port, reached only through pods/portforward")
	fs.StringVar(&ports, "ports", "", "the container's ports, comma-separated")
	fs.StringVar(&allow, "allow", "", "destinations the developer's process may dial: host names (*.ns.svc) and CIDRs, comma-separated")
	fs.StringVar(&o.Fork, "fork", "", "the fork's identifier (for the message while nobody is connected)")
	fs.StringVar(&o.Workload, "workload", "", "the workload's name (same)")
	fs.StringVar(&o.Namespace, "namespace", "", "the fork's namespace (same)")
	_ = fs.Parse(args)
	for _, p := range strings.Split(ports, ",") {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			fail("--ports: " + p + " is not a port")
		}
		o.Ports = append(o.Ports, int32(n))
	}
	if allow != "" {
		o.Allowed = strings.Split(allow, ",")
	}
	o.Log = log.New(os.Stderr, "agent: ", log.LstdFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := forkagent.New(o).Run(ctx); err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "kube-controller:", msg)
	os.Exit(2)
}
