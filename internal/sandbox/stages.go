package sandbox

import (
	"fmt"
	"strings"
	"time"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	"sigs.k8s.io/yaml"

	"github.com/kube-idp/kube/internal/contract"
)

// PodLogLines are what every container of the sandbox logs.
var PodLogLines = []string{
	"sandbox: this container runs no program; its node is simulated by kwok",
	"sandbox: these lines stand in for the application's output",
}

// podLog renders PodLogLines in the CRI log format that kwok serves.
func podLog(at time.Time) string {
	var b strings.Builder
	for _, l := range PodLogLines {
		fmt.Fprintf(&b, "%s stdout F %s\n", at.UTC().Format(time.RFC3339Nano), l)
	}
	return b.String()
}

// Annotations that make the sandbox's fake pods behave like real programs.
const (
	// AnnotationExitCode on a Job's pod makes it terminate with this exit code
	// (and fail when it is not 0) instead of succeeding.
	AnnotationExitCode = contract.AnnotationSandboxExitCode
	// AnnotationRunTime on a Job's pod keeps it running this long (a Go duration,
	// e.g. "5s") before it ends.
	AnnotationRunTime = contract.AnnotationSandboxRunTime
)

// podExitStage ends a Job's pod with the exit code of its annotation.
const podExitStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-exit
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.metadata.ownerReferences.[].kind'
      operator: 'In'
      values: ['Job']
    - key: '.metadata.annotations["` + AnnotationExitCode + `"]'
      operator: 'Exists'
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.annotations["` + AnnotationRunTime + `"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $code := index .metadata.annotations "` + AnnotationExitCode + `" }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: {{ $code }}
            finishedAt: {{ $now | Quote }}
            reason: {{ if eq $code "0" }}Completed{{ else }}Error{{ end }}
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: {{ if eq $code "0" }}Succeeded{{ else }}Failed{{ end }}
`

// kwokConfig is the kwokctl configuration of the sandbox: kwok's own fast node and
// pod stages (from the kwok module we build), with pod-complete leaving alone the
// pods that pod-exit handles and honouring the run time annotation, podLog
// served as the log of every container, and exec run locally in execDir.
// ServiceCIDR is the sandbox's Service IP range.
const ServiceCIDR = "10.96.0.0/16"

// DeprecatedAPI is a deprecated group/version the sandbox serves although
// Kubernetes no longer does by default (see kwokConfig).
const DeprecatedAPI = "resource.k8s.io/v1beta2"

func kwokConfig(podLog, execDir string) (string, error) {
	complete := map[string]any{}
	if err := yaml.Unmarshal([]byte(podfast.DefaultPodComplete), &complete); err != nil {
		return "", err
	}
	spec, _ := complete["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	exprs, _ := sel["matchExpressions"].([]any)
	if spec == nil || sel == nil || exprs == nil {
		return "", fmt.Errorf("kwok's pod-complete stage has an unexpected shape")
	}
	sel["matchExpressions"] = append(exprs, map[string]any{
		"key": `.metadata.annotations["` + AnnotationExitCode + `"]`, "operator": "DoesNotExist",
	})
	spec["delay"] = map[string]any{
		"durationMilliseconds": 0,
		"durationFrom":         map[string]any{"expressionFrom": `.metadata.annotations["` + AnnotationRunTime + `"]`},
	}
	completeYAML, err := yaml.Marshal(complete)
	if err != nil {
		return "", err
	}
	docs := []string{
		// A /16 for Service IPs instead of the deprecated default /24 (254
		// Services), which a namespace with hundreds of forks exhausts.
		`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  # Pods have no containers: a PortForward object says where kwok sends a
  # pod's forwarded port (kube fork connect's tests point an agent pod's
  # control port at an agent running on this machine).
  enableCRDs: [PortForward]
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - {key: service-cluster-ip-range, value: ` + ServiceCIDR + `}
  # A deprecated API that is still served (removed in 1.39), so that
  # kube upgrade check can be rehearsed: clients that call it show up in the
  # API server's apiserver_requested_deprecated_apis metric.
  - {key: runtime-config, value: ` + DeprecatedAPI + `=true}
- name: kube-controller-manager
  extraArgs:
  - {key: service-cluster-ip-range, value: ` + ServiceCIDR + `}
  # A client rate of 20 requests/s (the default) makes 30 Deployments take ten
  # seconds to roll out; a real cluster's control plane is not that slow.
  - {key: kube-api-qps, value: "200"}
  - {key: kube-api-burst, value: "400"}
  - {key: concurrent-deployment-syncs, value: "10"}
  - {key: concurrent-replicaset-syncs, value: "10"}`,
		nodefast.DefaultNodeInit,
		nodeheartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		string(completeYAML),
		podfast.DefaultPodDelete,
		podExitStage,
		// kwok serves this file as every container's log, so that log commands
		// have something real to stream from the API server.
		`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: sandbox-logs
spec:
  logs:
  - logsFile: ` + podLog + `
    follow: false`,
		// There are no containers: exec runs the command on this machine, in the
		// sandbox's exec directory, so that exec flows can be tried end to end.
		`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: sandbox-exec
spec:
  execs:
  - local:
      workDir: ` + execDir + `
      envs:
      - name: KUBE_SANDBOX_EXEC
        value: "true"`,
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d)
	}
	return strings.Join(docs, "\n---\n") + "\n", nil
}
