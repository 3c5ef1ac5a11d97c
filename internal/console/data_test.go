package console

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/deploy"
)

// fleetCluster is a cluster of fake clients holding one revision record per
// app and the workloads given.
func fleetCluster(apps []string, workloads ...runtime.Object) Cluster {
	s := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(s)
	var records []runtime.Object
	for _, a := range apps {
		records = append(records, &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: a + "-rev-1", Namespace: "shop", Labels: map[string]string{contract.LabelRevision: "1", contract.LabelApp: a}},
		})
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{alertmanagerConfigs: "AlertmanagerConfigList"})
	return Cluster{Name: "qa", Deploy: &deploy.Client{Kube: kubefake.NewClientset(workloads...), Dynamic: dyn}, Meta: metadatafake.NewSimpleMetadataClient(s, records...)}
}

func owned(app string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: app, Namespace: "shop", Generation: 2, Labels: map[string]string{contract.LabelPartOf: deploy.ApplySetID(app, "shop")}}
}

// The fleet page's verdict is kube status's: a failing rollout is Failed, an
// app with only CronJobs is judged on them, and a Deployment without
// replicas is judged as the API server defaults it, not counted as one.
func TestFleetVerdictIsKubeStatus(t *testing.T) {
	failing := &appsv1.Deployment{ObjectMeta: owned("web"), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet web-7c9 has timed out progressing."}}}}
	nightly := &batchv1.CronJob{ObjectMeta: owned("jobs"), Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *"}}
	noReplicas := &appsv1.Deployment{ObjectMeta: owned("api"),
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}, {Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}}
	starting := &appsv1.StatefulSet{ObjectMeta: owned("db"), Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 1, CurrentReplicas: 3, UpdatedReplicas: 3}}

	fleet := Fleet(context.Background(), []Cluster{fleetCluster([]string{"web", "jobs", "api", "db"}, failing, nightly, noReplicas, starting)})
	if len(fleet) != 1 || fleet[0].Error != "" {
		t.Fatalf("%+v", fleet)
	}
	got := map[string]FleetApp{}
	for _, a := range fleet[0].Apps {
		got[a.App] = a
	}
	for app, c := range map[string]struct {
		obj  runtime.Object
		kind string
		want string
	}{
		"web":  {failing, "Deployment", "Failed"},
		"jobs": {nightly, "CronJob", "Current"},
		"api":  {noReplicas, "Deployment", "Current"},
		"db":   {starting, "StatefulSet", "InProgress"},
	} {
		// What kube status says of the same object.
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c.obj)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion(map[string]string{"CronJob": "batch/v1"}[c.kind] + map[string]string{"Deployment": "apps/v1", "StatefulSet": "apps/v1"}[c.kind])
		u.SetKind(c.kind)
		st, _ := deploy.Readiness(u)
		if got[app].Status != c.want || deploy.Verdict(string(st)) != c.want {
			t.Errorf("%s: fleet %q (%s), kube status %q; want %q", app, got[app].Status, got[app].Message, st, c.want)
		}
	}
	if a := got["api"]; a.Ready != 1 || a.Desired != 1 {
		t.Errorf("api: %d/%d ready", a.Ready, a.Desired)
	}
	if m := got["web"].Message; !strings.HasPrefix(m, "Deployment/web: ") || !strings.Contains(m, "Progress deadline exceeded") {
		t.Errorf("web's message: %q", m)
	}
}
