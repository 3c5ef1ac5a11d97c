package addons

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"helm.sh/helm/v4/pkg/repo/v1/repotest"
)

func demoChart(v string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: v, AppVersion: v},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\ndata: {version: {{ .Chart.Version | quote }}}\n")}},
	}
}

// ociRegistry runs Helm's test registry (distribution's, in process, with a
// password) and pushes the demo chart at each version to REGISTRY/charts/demo.
func ociRegistry(t *testing.T, versions ...string) (url, user, password string) {
	t.Helper()
	t.Setenv("HELM_CONFIG_HOME", t.TempDir()) // no logins of the user's own
	srv, err := repotest.NewOCIServer(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ListenAndServe() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", srv.RegistryURL)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test registry never listened on %s: %v", srv.RegistryURL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptBasicAuth(srv.TestUsername, srv.TestPassword))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, v := range versions {
		path, err := chartutil.Save(demoChart(v), dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Push(data, srv.RegistryURL+"/charts/demo:"+v); err != nil {
			t.Fatal(err)
		}
	}
	return srv.RegistryURL + "/charts", srv.TestUsername, srv.TestPassword
}

// A chart pinned in an OCI registry is pulled with the credentials of the
// environment; without them, or at a version the registry lacks, the error
// says what to do.
func TestFetchOCI(t *testing.T) {
	url, user, password := ociRegistry(t, "1.0.0", "1.1.0")
	r := &Repository{Name: "private-oci", URL: url, OCI: true}
	f := &Fetcher{Timeout: 10 * time.Second}
	ctx := context.Background()

	_, err := f.Fetch(ctx, r, "demo", "1.1.0")
	if err == nil || !strings.Contains(err.Error(), "KUBE_HELM_REPO_PRIVATE_OCI_USERNAME") {
		t.Fatalf("without credentials: %v; want an error that names the variables to set", err)
	}

	t.Setenv("KUBE_HELM_REPO_PRIVATE_OCI_USERNAME", user)
	t.Setenv("KUBE_HELM_REPO_PRIVATE_OCI_PASSWORD", password)
	t.Setenv("KUBE_HELM_REPO_PRIVATE_OCI_HOST", strings.SplitN(url, "/", 2)[0])
	got, err := f.Fetch(ctx, r, "demo", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Chart.Metadata.Version != "1.1.0" || got.Source != "oci://"+url+"/demo:1.1.0" {
		t.Errorf("pulled %s from %s, want 1.1.0 from oci://%s/demo:1.1.0", got.Chart.Metadata.Version, got.Source, url)
	}

	_, err = f.Fetch(ctx, r, "demo", "9.9.9")
	if err == nil || !strings.Contains(err.Error(), "has no version 9.9.9") || !strings.Contains(err.Error(), "1.1.0, 1.0.0") {
		t.Errorf("unknown version: %v; want the versions the registry has", err)
	}
	if err != nil && strings.Contains(err.Error(), password) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// A private HTTP chart repository gets the environment's credentials, and the
// chart is checked against the index's digest; without credentials the error
// names the variables to set.
func TestFetchHTTPLogin(t *testing.T) {
	dir := t.TempDir()
	if _, err := chartutil.Save(demoChart("1.0.0"), dir); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, req)
	}))
	defer srv.Close()
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Repository{Name: "private", URL: srv.URL}
	ctx := context.Background()

	_, err = (&Fetcher{}).Fetch(ctx, r, "demo", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "set KUBE_HELM_REPO_PRIVATE_USERNAME and KUBE_HELM_REPO_PRIVATE_PASSWORD") {
		t.Fatalf("without credentials: %v; want an error that names the variables to set", err)
	}
	t.Setenv("KUBE_HELM_REPO_PRIVATE_USERNAME", "ci")
	t.Setenv("KUBE_HELM_REPO_PRIVATE_PASSWORD", "s3cret")
	t.Setenv("KUBE_HELM_REPO_PRIVATE_HOST", strings.TrimPrefix(srv.URL, "http://"))
	got, err := (&Fetcher{CacheDir: t.TempDir()}).Fetch(ctx, r, "demo", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Chart.Metadata.Version != "1.0.0" {
		t.Errorf("pulled %s, want 1.0.0", got.Chart.Metadata.Version)
	}
}

// A pull request cannot redirect the platform's registry credentials: they go
// only to the host they are bound to, never over plain http beyond this
// machine, never after a redirect to another host.
func TestCredentialsStayWithTheirHost(t *testing.T) {
	var leaked []string
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if h := req.Header.Get("Authorization"); h != "" {
			leaked = append(leaked, req.URL.Path+" "+h)
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer attacker.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, attacker.URL+"/stolen"+req.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	t.Setenv("KUBE_HELM_REPO_INTERNAL_USERNAME", "ci")
	t.Setenv("KUBE_HELM_REPO_INTERNAL_PASSWORD", "s3cret")
	ctx := context.Background()

	// Without a bound host, nothing is sent and the error says what to set.
	_, err := (&Fetcher{}).Fetch(ctx, &Repository{Name: "INTERNAL", URL: attacker.URL}, "demo", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "KUBE_HELM_REPO_INTERNAL_HOST is not") {
		t.Errorf("no bound host: %v", err)
	}
	t.Setenv("KUBE_HELM_REPO_INTERNAL_HOST", strings.TrimPrefix(redirector.URL, "http://"))
	// The pull request points the repository (or a same-named one) elsewhere.
	_, err = (&Fetcher{}).Fetch(ctx, &Repository{Name: "INTERNAL", URL: attacker.URL}, "demo", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "credentials are bound to") {
		t.Errorf("another host: %v", err)
	}
	// The bound host redirects to another: the credentials stay behind.
	_, err = (&Fetcher{}).Fetch(ctx, &Repository{Name: "internal", URL: redirector.URL}, "demo", "1.0.0")
	if err == nil {
		t.Error("fetched from an empty repository")
	}
	// Plain http to a host beyond this machine.
	t.Setenv("KUBE_HELM_REPO_INTERNAL_HOST", "charts.example.com")
	_, err = (&Fetcher{}).Fetch(ctx, &Repository{Name: "internal", URL: "http://charts.example.com"}, "demo", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "never sent over plain http") {
		t.Errorf("plain http: %v", err)
	}
	if len(leaked) > 0 {
		t.Fatalf("credentials reached another host: %v", leaked)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestRepositoryNamesThatShareCredentialsAreRefused(t *testing.T) {
	_, err := parse(t, "repositories:\n- {name: internal, url: https://charts.example.com}\n- {name: INTERNAL, url: https://attacker.example}\nreleases: []\n")
	if err == nil || !strings.Contains(err.Error(), `:3:4: repository "INTERNAL" and "internal" share the credential variables KUBE_HELM_REPO_INTERNAL_*`) {
		t.Fatalf("got %v", err)
	}
}

// An index larger than the limit is refused, not read into memory.
func TestOversizedIndexIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		chunk := bytes.Repeat([]byte("#"), 1<<20)
		for i := 0; i <= MaxIndexBytes>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	_, err := (&Fetcher{}).Fetch(context.Background(), &Repository{Name: "big", URL: srv.URL}, "demo", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Fatalf("got %v", err)
	}
}
