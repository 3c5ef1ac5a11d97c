package addons

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/kube-idp/kube/internal/secrets"
)

// Fetcher downloads pinned charts from HTTP chart repositories and OCI
// registries with Helm's own clients. Charts of an HTTP repository are cached
// by the digest its index publishes, and checked against it.
type Fetcher struct {
	// CacheDir keeps downloaded charts; "" keeps none.
	CacheDir string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration

	mu      sync.Mutex
	indexes map[string]*indexResult
}

type indexResult struct {
	once  sync.Once
	index *repo.IndexFile
	err   error
}

// Fetched is a loaded chart and where it came from.
type Fetched struct {
	Chart  *chart.Chart
	Source string
}

// EnvRepoUsername and EnvRepoPassword name the variables that hold a private
// repository's credentials: KUBE_HELM_REPO_<NAME>_USERNAME and _PASSWORD, NAME
// being the repository's name in upper case with '-' as '_'. The reviewed file
// never holds them. EnvRepoHost binds them to the registry host the platform
// configured (as docker's and helm's logins are bound to a host): a pull
// request that points the repository elsewhere does not get them.
func EnvRepoUsername(name string) string { return envPrefix(name) + "_USERNAME" }

// EnvRepoPassword: see EnvRepoUsername.
func EnvRepoPassword(name string) string { return envPrefix(name) + "_PASSWORD" }

// EnvRepoHost: see EnvRepoUsername.
func EnvRepoHost(name string) string { return envPrefix(name) + "_HOST" }

// Limits on what a repository may send: an index or a chart larger than this
// is refused rather than read into memory.
const (
	MaxIndexBytes = 32 << 20
	MaxChartBytes = 20 << 20
)

// credentials returns the repository's login from the environment, or none,
// and refuses to hand it to a host or a scheme the platform did not bind it to.
func credentials(r *Repository) (user, password string, err error) {
	user = os.Getenv(EnvRepoUsername(r.Name))
	if user == "" {
		return "", "", nil
	}
	host, scheme := r.host()
	bound := os.Getenv(EnvRepoHost(r.Name))
	switch {
	case bound == "":
		return "", "", fmt.Errorf("repository %s: %s is set but %s is not: set it to the registry host the credentials belong to (%s if that is right); kube sends them nowhere else", r.Name, EnvRepoUsername(r.Name), EnvRepoHost(r.Name), host)
	case !strings.EqualFold(bound, host):
		return "", "", fmt.Errorf("repository %s: its url is on %s, but its credentials are bound to %s (%s): not sent", r.Name, host, bound, EnvRepoHost(r.Name))
	case scheme == "http" && !loopback(host):
		return "", "", fmt.Errorf("repository %s: credentials are never sent over plain http: use https://%s", r.Name, host)
	}
	return user, os.Getenv(EnvRepoPassword(r.Name)), nil
}

// host is the repository's host[:port] and scheme ("oci" for a registry).
func (r *Repository) host() (host, scheme string) {
	if r.OCI {
		return strings.SplitN(r.URL, "/", 2)[0], "oci"
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return r.URL, ""
	}
	return u.Host, u.Scheme
}

func envPrefix(name string) string {
	return "KUBE_HELM_REPO_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout == 0 {
		return 30 * time.Second
	}
	return f.Timeout
}

// Fetch loads chart name at version from r.
func (f *Fetcher) Fetch(ctx context.Context, r *Repository, name, version string) (*Fetched, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.OCI {
		return f.fetchOCI(r, name, version)
	}
	idx, err := f.index(ctx, r)
	if err != nil {
		return nil, err
	}
	cv, err := idx.Get(name, version)
	if err != nil || cv.Version != version {
		return nil, unknownVersion(r, name, version, idx)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("repository %s lists %s %s without a download URL", r.Name, name, version)
	}
	u, err := repo.ResolveReferenceURL(r.URL, cv.URLs[0])
	if err != nil {
		return nil, err
	}
	data, err := f.download(ctx, r, u, cv.Digest)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, u, err)
	}
	return &Fetched{Chart: ch, Source: u}, nil
}

// NewestSupporting returns the newest version of chart name in r whose
// kubeVersion admits kubeVersion (Helm's own check), or "" when none does or
// the repository cannot say (OCI registries list tags, not constraints).
func (f *Fetcher) NewestSupporting(ctx context.Context, r *Repository, name, kubeVersion string) (string, error) {
	if r.OCI {
		return "", nil
	}
	idx, err := f.index(ctx, r)
	if err != nil {
		return "", err
	}
	for _, cv := range idx.Entries[name] { // newest first
		if cv.KubeVersion == "" || chartutil.IsCompatibleRange(cv.KubeVersion, kubeVersion) {
			return cv.Version, nil
		}
	}
	return "", nil
}

func unknownVersion(r *Repository, name, version string, idx *repo.IndexFile) error {
	versions := idx.Entries[name]
	if len(versions) == 0 {
		return fmt.Errorf("repository %s (%s) has no chart %q", r.Name, r.URL, name)
	}
	var list []string
	for i, v := range versions { // newest first
		if i == 10 {
			list = append(list, "...")
			break
		}
		list = append(list, v.Version)
	}
	return fmt.Errorf("chart %s has no version %s in repository %s (%s); it has %s", name, version, r.Name, r.URL, strings.Join(list, ", "))
}

// index downloads a repository's index once per Fetcher.
func (f *Fetcher) index(ctx context.Context, r *Repository) (*repo.IndexFile, error) {
	f.mu.Lock()
	if f.indexes == nil {
		f.indexes = map[string]*indexResult{}
	}
	res := f.indexes[r.URL]
	if res == nil {
		res = &indexResult{}
		f.indexes[r.URL] = res
	}
	f.mu.Unlock()
	res.once.Do(func() {
		u, err := repo.ResolveReferenceURL(r.URL, "index.yaml")
		if err != nil {
			res.err = err
			return
		}
		data, err := f.get(ctx, r, u, MaxIndexBytes)
		if err != nil {
			res.err = fmt.Errorf("repository %s unreachable: %w%s", r.Name, err, loginHint(r, err))
			return
		}
		res.index, res.err = parseIndex(data)
		if res.err != nil {
			res.err = fmt.Errorf("repository %s (%s): not a chart repository index: %w", r.Name, u, res.err)
		}
	})
	return res.index, res.err
}

// parseIndex parses an index.yaml with Helm's loader (which only reads files).
func parseIndex(data []byte) (*repo.IndexFile, error) {
	tmp, err := os.CreateTemp("", "kube-index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return repo.LoadIndexFile(tmp.Name())
}

// get downloads u for repository r, with r's credentials only on r's own host:
// a redirect or a chart URL elsewhere gets none, and a body larger than limit
// is refused.
func (f *Fetcher) get(ctx context.Context, r *Repository, u string, limit int64) ([]byte, error) {
	user, password, err := credentials(r)
	if err != nil {
		return nil, err
	}
	host, _ := r.host()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if user != "" && strings.EqualFold(req.URL.Host, host) {
		req.SetBasicAuth(user, password)
	}
	client := &http.Client{
		Timeout: f.timeout(),
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if !strings.EqualFold(next.URL.Host, host) {
				next.Header.Del("Authorization")
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", secrets.RedactURL(u), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB, the most kube downloads", secrets.RedactURL(u), limit>>20)
	}
	return data, nil
}

// download returns a chart archive, from the cache when its digest is known.
func (f *Fetcher) download(ctx context.Context, r *Repository, u, digest string) ([]byte, error) {
	digest = strings.TrimPrefix(digest, "sha256:")
	cached := ""
	if f.CacheDir != "" && len(digest) == 64 {
		cached = filepath.Join(f.CacheDir, digest+".tgz")
		if data, err := os.ReadFile(cached); err == nil && sha(data) == digest {
			return data, nil
		}
	}
	data, err := f.get(ctx, r, u, MaxChartBytes)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", secrets.RedactURL(u), err)
	}
	if digest != "" && sha(data) != digest {
		return nil, fmt.Errorf("download %s: its sha256 is %s, but the repository's index says %s: refusing it", u, sha(data), digest)
	}
	if cached != "" {
		// Best effort: a cache that cannot be written only costs a download.
		if err := os.MkdirAll(f.CacheDir, 0o755); err == nil {
			tmp := cached + ".tmp"
			if os.WriteFile(tmp, data, 0o644) == nil {
				_ = os.Rename(tmp, cached)
			}
		}
	}
	return data, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fetchOCI pulls a chart from an OCI registry with Helm's registry client,
// which reads the logins of `helm registry login`. Registries on the loopback
// interface are spoken to over plain HTTP, as Docker does.
func (f *Fetcher) fetchOCI(r *Repository, name, version string) (*Fetched, error) {
	opts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
	if loopback(r.URL) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	user, password, err := credentials(r)
	if err != nil {
		return nil, err
	}
	if user != "" {
		opts = append(opts, registry.ClientOptBasicAuth(user, password))
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ref := strings.TrimSuffix(r.URL, "/") + "/" + name
	res, err := c.Pull(ref + ":" + version)
	if err != nil {
		if tags, terr := c.Tags(ref); terr == nil {
			if len(tags) > 10 {
				tags = append(tags[:10], "...")
			}
			return nil, fmt.Errorf("chart %s has no version %s in registry %s (%s); it has %s", name, version, r.Name, r.URL, strings.Join(tags, ", "))
		}
		return nil, fmt.Errorf("registry %s (%s): %w%s", r.Name, r.URL, err, loginHint(r, err))
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, ref, err)
	}
	return &Fetched{Chart: ch, Source: "oci://" + ref + ":" + version}, nil
}

// loginHint tells how to give credentials when a repository refused for want of
// them. Helm's HTTP getter and OCI client report it in different shapes, so
// this reads the message.
func loginHint(r *Repository, err error) string {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"401", "403", "unauthorized", "forbidden", "credential not found"} {
		if strings.Contains(msg, s) {
			hint := fmt.Sprintf("; if it needs a login, set %s and %s", EnvRepoUsername(r.Name), EnvRepoPassword(r.Name))
			if r.OCI {
				hint += " (or run helm registry login)"
			}
			return hint
		}
	}
	return ""
}

func loopback(registryPath string) bool {
	host := strings.SplitN(registryPath, "/", 2)[0]
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
