//go:build !windows

package fork_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/controller/fork"
	"github.com/kube-idp/kube/internal/testcluster"
)

// localService is a shared Deployment with named ports, a ServiceAccount, pod
// annotations, environment from a Secret and a volume: what a local copy must
// keep (ports, identity) and drop (everything else).
func localService(t *testing.T, env *testcluster.Env, name string) {
	t.Helper()
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}, Annotations: map[string]string{"sidecar.istio.io/inject": "true"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					Volumes:            []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					Containers: []corev1.Container{{
						Name: "app", Image: "registry.example.com/" + name + ":v1",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
						Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "web-secrets"}, Key: "token"}}}},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
					}},
				},
			},
		},
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace}}
	for _, o := range []client.Object{sa, dep} {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func localFork(env *testcluster.Env, name string, w forkv1.Workload) *forkv1.Fork {
	return &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace}, Spec: forkv1.ForkSpec{Workloads: []forkv1.Workload{w}}}
}

func condition(f *forkv1.Fork, t string) metav1.Condition {
	if c := meta.FindStatusCondition(f.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// touch changes an annotation of the fork, as kube fork connect does when it
// takes or gives up the Lease, so that the controller looks at it.
func touch(t *testing.T, env *testcluster.Env, f *forkv1.Fork, value string) {
	t.Helper()
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"fork.kube-idp.dev/local-session":"`+value+`"}}}`))
	if err := env.Client.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
}

func TestLocalWorkloadRunsOnlyTheAgent(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	localService(t, env, "web")
	c := &clock{}
	startController(t, env, c)

	f := localFork(env, "alice", forkv1.Workload{Name: "web", Local: &forkv1.LocalWorkload{}})
	if err := env.Client.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	f = waitFork(t, env, "alice", ready)
	if len(f.Status.Copies) != 1 || !f.Status.Copies[0].Local {
		t.Fatalf("copies %+v", f.Status.Copies)
	}
	var cp appsv1.Deployment
	get(t, env, "web-fork-alice", &cp)
	pod := cp.Spec.Template
	if *cp.Spec.Replicas != 1 || len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 || len(pod.Spec.Volumes) != 0 {
		t.Fatalf("the copy runs more than the agent: %+v", cp.Spec)
	}
	agent := pod.Spec.Containers[0]
	if agent.Name != "app" || agent.Image != fork.DefaultAgentImage || len(agent.Env) != 0 || len(agent.EnvFrom) != 0 || len(agent.VolumeMounts) != 0 {
		t.Errorf("agent container: %+v", agent)
	}
	args := strings.Join(agent.Args, " ")
	for _, want := range []string{"agent", "--ports=8080,9090", "--control=127.0.0.1:15999", "--fork=alice", "--workload=web", "--allow=*." + env.Namespace + ".svc,"} {
		if !strings.Contains(args, want) {
			t.Errorf("agent args %q lack %q", args, want)
		}
	}
	if len(agent.Ports) != 2 || agent.Ports[0].Name != "http" || agent.Ports[1].Name != "metrics" || agent.ReadinessProbe == nil || agent.ReadinessProbe.TCPSocket.Port.IntValue() != 8080 {
		t.Errorf("ports and probe: %+v %+v", agent.Ports, agent.ReadinessProbe)
	}
	sc := agent.SecurityContext
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || !*pod.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("security context: %+v / %+v", sc, pod.Spec.SecurityContext)
	}
	if pod.Spec.ServiceAccountName != "web" || *pod.Spec.AutomountServiceAccountToken || pod.Annotations["sidecar.istio.io/inject"] != "true" || pod.Annotations[forkv1.AnnotationAgentControlPort] != "15999" {
		t.Errorf("identity: sa %q, token %v, annotations %v", pod.Spec.ServiceAccountName, *pod.Spec.AutomountServiceAccountToken, pod.Annotations)
	}
	if cond := condition(f, forkv1.ConditionLocalConnected); cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "kube fork connect alice") {
		t.Errorf("before anyone connects: %+v", cond)
	}

	// kube fork connect holds the Lease: the status says who, since when.
	now := metav1.NewMicroTime(c.now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: fork.LocalLeaseName(f), Namespace: env.Namespace}, Spec: coordinationv1.LeaseSpec{
		HolderIdentity: ptr.To("alice@laptop"), LeaseDurationSeconds: ptr.To[int32](15), AcquireTime: &now, RenewTime: &now}}
	if err := env.Client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	touch(t, env, f, "alice@laptop")
	f = waitFork(t, env, "alice", func(f *forkv1.Fork) bool {
		return condition(f, forkv1.ConditionLocalConnected).Status == metav1.ConditionTrue
	})
	if msg := condition(f, forkv1.ConditionLocalConnected).Message; !strings.HasPrefix(msg, "alice@laptop since ") {
		t.Errorf("connected: %q", msg)
	}
	// A Lease nobody renews ends the connection, without anyone saying so.
	c.advance(time.Minute)
	touch(t, env, f, "")
	waitFork(t, env, "alice", func(f *forkv1.Fork) bool {
		return condition(f, forkv1.ConditionLocalConnected).Status == metav1.ConditionFalse
	})
}

func TestLocalWorkloadRefusals(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	localService(t, env, "web")
	for name, w := range map[string]forkv1.Workload{
		"selector": {Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Local: &forkv1.LocalWorkload{}},
		"replicas": {Name: "web", Replicas: ptr.To[int32](2), Local: &forkv1.LocalWorkload{}},
		"sts":      {Name: "web", Kind: forkv1.KindStatefulSet, Local: &forkv1.LocalWorkload{}},
	} {
		err := env.Client.Create(ctx, localFork(env, name, w))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "a local workload is one named Deployment with one replica") {
			t.Errorf("%s: %v", name, err)
		}
	}
	profile := &forkv1.ForkProfile{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: env.Namespace},
		Spec: forkv1.ForkProfileSpec{Local: &forkv1.LocalProfile{Disabled: true}}}
	if err := env.Client.Create(ctx, profile); err != nil {
		t.Fatal(err)
	}
	startController(t, env, &clock{})
	if err := env.Client.Create(ctx, localFork(env, "bob", forkv1.Workload{Name: "web", Local: &forkv1.LocalWorkload{Container: "nope"}})); err != nil {
		t.Fatal(err)
	}
	f := waitFork(t, env, "bob", func(f *forkv1.Fork) bool {
		return condition(f, forkv1.ConditionDegraded).Status == metav1.ConditionTrue
	})
	if msg := condition(f, forkv1.ConditionDegraded).Message; !strings.Contains(msg, "disables local workloads") {
		t.Errorf("disabled by the profile: %q", msg)
	}
	profile.Spec.Local.Disabled = false
	if err := env.Client.Update(ctx, profile); err != nil {
		t.Fatal(err)
	}
	f = waitFork(t, env, "bob", func(f *forkv1.Fork) bool {
		return strings.Contains(condition(f, forkv1.ConditionDegraded).Message, `no container "nope"`)
	})
	if len(f.Status.Copies) != 0 {
		t.Errorf("a copy was made: %+v", f.Status.Copies)
	}
}
