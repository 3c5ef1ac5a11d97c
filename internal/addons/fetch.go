package addons

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
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
// never holds them.
func EnvRepoUsername(name string) string { return envPrefix(name) + "_USERNAME" }

// EnvRepoPassword: see EnvRepoUsername.
func EnvRepoPassword(name string) string { return envPrefix(name) + "_PASSWORD" }

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
	idx, err := f.index(r)
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
	data, err := f.download(r, u, cv.Digest)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, u, err)
	}
	return &Fetched{Chart: ch, Source: u}, nil
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
func (f *Fetcher) index(r *Repository) (*repo.IndexFile, error) {
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
		data, err := f.get(r, u)
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

func (f *Fetcher) get(r *Repository, u string) ([]byte, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	g, err := getter.Getters().ByScheme(parsed.Scheme)
	if err != nil {
		return nil, err
	}
	opts := []getter.Option{getter.WithURL(r.URL), getter.WithTimeout(f.timeout())}
	if user := os.Getenv(EnvRepoUsername(r.Name)); user != "" {
		opts = append(opts, getter.WithBasicAuth(user, os.Getenv(EnvRepoPassword(r.Name))))
	}
	buf, err := g.Get(u, opts...)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// download returns a chart archive, from the cache when its digest is known.
func (f *Fetcher) download(r *Repository, u, digest string) ([]byte, error) {
	digest = strings.TrimPrefix(digest, "sha256:")
	cached := ""
	if f.CacheDir != "" && len(digest) == 64 {
		cached = filepath.Join(f.CacheDir, digest+".tgz")
		if data, err := os.ReadFile(cached); err == nil && sha(data) == digest {
			return data, nil
		}
	}
	data, err := f.get(r, u)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
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
	if user := os.Getenv(EnvRepoUsername(r.Name)); user != "" {
		opts = append(opts, registry.ClientOptBasicAuth(user, os.Getenv(EnvRepoPassword(r.Name))))
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
