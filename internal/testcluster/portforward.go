package testcluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ForwardPod makes kwok send the pod's forwarded ports (pods/portforward
// through the API server) to addresses of this machine: the sandbox's pods
// have no containers. targets maps a pod port to a local port on 127.0.0.1.
func ForwardPod(ctx context.Context, c client.Client, pod *corev1.Pod, targets map[int32]int) error {
	var forwards []any
	for podPort, local := range targets {
		forwards = append(forwards, map[string]any{
			"ports":  []any{int64(podPort)},
			"target": map[string]any{"port": int64(local), "address": "127.0.0.1"},
		})
	}
	return c.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
		"metadata": map[string]any{"name": pod.Name, "namespace": pod.Namespace},
		"spec":     map[string]any{"forwards": forwards},
	}})
}
