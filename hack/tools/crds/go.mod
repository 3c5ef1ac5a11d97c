// Pins the third-party APIs whose CRDs `kube sandbox up` installs. The CRD files are
// read from these modules' sources in the Go module cache; nothing else is downloaded.
module github.com/kube-idp/kube/hack/tools/crds

go 1.26.0

require (
	github.com/prometheus-operator/prometheus-operator v0.85.0
	istio.io/api v1.31.1
	sigs.k8s.io/gateway-api v1.6.3
)

// No Go code here imports these modules, so `go mod tidy` would drop them: edit by hand.
