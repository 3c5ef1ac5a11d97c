package console

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/forks"
	"github.com/kube-idp/kube/internal/monitoring"
)

// NewCluster builds the clients of one cluster from cfg's credentials.
func NewCluster(name string, cfg *rest.Config, prometheus string) (Cluster, error) {
	dc, err := deploy.NewClient(cfg)
	if err != nil {
		return Cluster{}, err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, err
	}
	fc, err := forks.NewClient(cfg)
	if err != nil {
		return Cluster{}, err
	}
	c := Cluster{Name: name, Deploy: dc, Meta: mc, Forks: fc}
	if prometheus != "" {
		c.Monitoring = &monitoring.API{Prometheus: prometheus}
	}
	return c, nil
}

// Viewers serves each viewer with their own Kubernetes identity, as
// Kubernetes Dashboard and Headlamp do: the bearer token that the
// authenticating proxy in front of the console forwards (oauth2-proxy's
// --pass-access-token, an OIDC ingress's Authorization header) is used for
// every API call, so RBAC decides what each viewer sees and the console holds
// no access of its own.
type Viewers struct {
	// Name of the cluster, and Base: its address and CA, without credentials.
	Name       string
	Base       *rest.Config
	Prometheus string

	mu    sync.Mutex
	cache map[[32]byte]viewerClients
}

type viewerClients struct {
	cluster Cluster
	expires time.Time
}

// viewerTTL is how long a viewer's clients (and their discovery cache) are
// kept; the token is checked by the API server on every call regardless.
const viewerTTL = time.Minute

// Token is the viewer's bearer token from the request: X-Forwarded-Access-Token
// (oauth2-proxy), else Authorization: Bearer.
func Token(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get("X-Forwarded-Access-Token")); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// clusters are the viewer's clients for token.
func (v *Viewers) clusters(token string, now time.Time) ([]Cluster, error) {
	key := sha256.Sum256([]byte(token)) // the cache keeps no token as a key
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.cache[key]; ok && now.Before(e.expires) {
		return []Cluster{e.cluster}, nil
	}
	cfg := rest.AnonymousClientConfig(v.Base)
	cfg.BearerToken = token
	c, err := NewCluster(v.Name, cfg, v.Prometheus)
	if err != nil {
		return nil, err
	}
	if v.cache == nil {
		v.cache = map[[32]byte]viewerClients{}
	}
	for k, e := range v.cache {
		if !now.Before(e.expires) {
			delete(v.cache, k)
		}
	}
	v.cache[key] = viewerClients{cluster: c, expires: now.Add(viewerTTL)}
	return []Cluster{c}, nil
}

type clustersKey struct{}

// withViewer puts the viewer's clusters in the request's context, or answers
// 401 without a token. It returns false when it answered.
func (s *Server) withViewer(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if s.Viewers == nil || r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/static/") {
		return r, true
	}
	token := Token(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kube console"`)
		http.Error(w, "sign in through the platform's proxy: the console reads the clusters with your own Kubernetes identity, which it forwards (oauth2-proxy --pass-access-token, or an OIDC ingress that sets Authorization: Bearer); see docs/console.md", http.StatusUnauthorized)
		return r, false
	}
	cs, err := s.Viewers.clusters(token, s.Now())
	if err != nil {
		http.Error(w, "building the clients: "+err.Error(), http.StatusInternalServerError)
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), clustersKey{}, cs)), true
}

// clustersFor are the clusters a request sees: the viewer's, or the console's.
func (s *Server) clustersFor(r *http.Request) []Cluster {
	if cs, ok := r.Context().Value(clustersKey{}).([]Cluster); ok {
		return cs
	}
	return s.Clusters
}
