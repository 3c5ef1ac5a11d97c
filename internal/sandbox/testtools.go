package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kube-idp/kube/internal/progress"
)

// TraefikVersion is the Gateway API implementation that the fork routing test
// sends real requests through; it must equal hack/tools/traefik/go.mod.
const TraefikVersion = "v3.6.12"

// Versions of the monitoring programs the alert tests run; each must equal its
// module in hack/tools/<name>/go.mod.
const (
	PrometheusVersion         = "v0.316.0" // Prometheus 3.16
	AlertmanagerVersion       = "v0.31.1"
	KubeStateMetricsVersion   = "v2.18.0"
	PrometheusOperatorVersion = "v0.93.0"
	// HelmVersion is the helm binary the add-on tests install with; the same
	// as the Helm SDK in go.mod.
	HelmVersion = "v4.3.1"
	// ActionlintVersion checks the GitHub Actions workflows kube ships.
	ActionlintVersion = "v1.7.12"
	// OpenTofuVersion plans and applies in the kube infra tests.
	OpenTofuVersion = "v1.12.6"
	// ConftestVersion runs next to kube infra in bench/infra.sh.
	ConftestVersion = "v0.71.1"
	// TestProviderVersion is what the infra tests' filesystem mirror calls
	// hack/tools/tfprovider.
	TestProviderVersion = "1.0.0"
	// PrometheusRelease and AlertmanagerRelease are the same versions as the
	// programs call themselves (config/monitoring asks the operator for them).
	PrometheusRelease   = "3.16.0"
	AlertmanagerRelease = "0.31.1"
)

// testTool is a program only tests use, with the build tags it needs.
type testTool struct {
	binary
	Tags string
	// Ours: its source is in its tools module, and the cache entry follows it.
	Ours bool
}

// testTools are programs only tests use. They are not sandbox components, so
// each has its own cache entry and pinning one does not rebuild the sandbox.
func testTools() []testTool {
	return []testTool{
		{binary: binary{"traefik", "traefik", "github.com/traefik/traefik/v3/cmd/traefik", TraefikVersion,
			"-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=" + TraefikVersion}},
		// Without cloud service discovery: the tests scrape static targets, and
		// the cloud SDKs would double the build time.
		{binary: binary{"prometheus", "prometheus", "github.com/prometheus/prometheus/cmd/prometheus", PrometheusVersion,
			"-s -w -X github.com/prometheus/common/version.Version=" + PrometheusRelease},
			Tags: "remove_all_sd,enable_kubernetes_sd"},
		{binary: binary{"alertmanager", "alertmanager", "github.com/prometheus/alertmanager/cmd/alertmanager", AlertmanagerVersion,
			"-s -w -X github.com/prometheus/common/version.Version=" + AlertmanagerRelease}},
		{binary: binary{"kube-state-metrics", "kube-state-metrics", "k8s.io/kube-state-metrics/v2", KubeStateMetricsVersion,
			"-s -w -X github.com/prometheus/common/version.Version=" + strings.TrimPrefix(KubeStateMetricsVersion, "v")}},
		{binary: binary{"prometheus-operator", "prometheus-operator", "github.com/prometheus-operator/prometheus-operator/cmd/operator", PrometheusOperatorVersion,
			"-s -w -X github.com/prometheus/common/version.Version=" + strings.TrimPrefix(PrometheusOperatorVersion, "v")}},
		{binary: binary{"helm", "helm", "helm.sh/helm/v4/cmd/helm", HelmVersion,
			"-s -w -X helm.sh/helm/v4/internal/version.version=" + HelmVersion}},
		{binary: binary{"actionlint", "actionlint", "github.com/rhysd/actionlint/cmd/actionlint", ActionlintVersion,
			"-s -w -X github.com/rhysd/actionlint.version=" + ActionlintVersion}},
		// dev=no: a release build, which calls itself 1.12.6 (not 1.12.6-dev), as
		// kube-infra.yaml's version pins it.
		{binary: binary{"tofu", "opentofu", "github.com/opentofu/opentofu/cmd/tofu", OpenTofuVersion,
			"-s -w -X github.com/opentofu/opentofu/version.dev=no"}},
		{binary: binary{"conftest", "conftest", "github.com/open-policy-agent/conftest", ConftestVersion,
			"-s -w -X github.com/open-policy-agent/conftest/internal/version.Version=" + strings.TrimPrefix(ConftestVersion, "v")}},
		// The provider the kube infra tests plan with (terraform-plugin-framework).
		{binary: binary{"terraform-provider-kubetest", "tfprovider", ".", TestProviderVersion, "-s -w"}, Ours: true},
	}
}

// EnsureTestTool returns the path of the named test tool, building it from the
// Go module proxy (or installing it from the npm registry) into the cache first
// if needed (once: concurrent callers wait).
func EnsureTestTool(ctx context.Context, p *progress.Reporter, name string) (string, error) {
	if t, ok := npmTools()[name]; ok {
		return ensureNpmTool(ctx, p, name, t)
	}
	var tool *testTool
	for _, b := range testTools() {
		if b.Name == name {
			tool = &b
		}
	}
	if tool == nil {
		return "", fmt.Errorf("no test tool named %q", name)
	}
	h := sha256.New()
	fmt.Fprintln(h, tool.Package, tool.Version, tool.LDFlags)
	if tool.Tags != "" { // only then, so that adding Tags kept earlier tools' cache entries
		fmt.Fprintln(h, "tags", tool.Tags)
	}
	if tool.Ours {
		if err := hashSources(h, tool.Module); err != nil {
			return "", err
		}
	}
	return cachedTool(ctx, fmt.Sprintf("%s-%s-%s", name, tool.Version, hex.EncodeToString(h.Sum(nil))[:10]), name,
		func(tmp, dir string) error {
			goBin, err := findGo(ctx)
			if err != nil {
				return err
			}
			tools, err := FindToolsDir()
			if err != nil {
				return err
			}
			err = p.Step(fmt.Sprintf("building %s %s for the tests into %s (once per version)", name, tool.Version, dir), func() error {
				return runGo(ctx, goBin, filepath.Join(tools, tool.Module), filepath.Join(tmp, "build.log"),
					"build", "-trimpath", "-tags", tool.Tags, "-ldflags", tool.LDFlags, "-o", filepath.Join(tmp, name), tool.Package)
			})
			if err != nil {
				return err
			}
			return os.Remove(filepath.Join(tmp, "build.log"))
		})
}

// hashSources adds the files of our own tools module to h.
func hashSources(h io.Writer, module string) error {
	tools, err := FindToolsDir()
	if err != nil {
		return err
	}
	dir := filepath.Join(tools, module)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(data))
		h.Write(data)
	}
	return nil
}

// cachedTool returns the cache's tools/<entry>/<bin>, first running install
// into a fresh tools/<entry>.tmp (dir is where it will end up) under a lock and renaming it into place, so
// that an interrupted install never leaves a half-made entry.
func cachedTool(ctx context.Context, entry, bin string, install func(tmp, dir string) error) (string, error) {
	root, err := CacheRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "tools", entry)
	path := filepath.Join(dir, bin)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil { // made by another process while we waited
		return path, nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	if err := install(tmp, dir); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, dir)
}
