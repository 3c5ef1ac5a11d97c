package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/forks"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the console's pages. It only reads: every request other than
// GET or HEAD is refused.
type Server struct {
	Clusters []Cluster
	// Catalog is the platform catalog, or nil with CatalogErr saying why.
	Catalog    *catalog.Catalog
	CatalogErr string
	// Hosts are the Host headers accepted (the listen address, localhost);
	// empty accepts any, for a console behind an in-cluster Service. A local
	// console checks them so that a web page the user visits cannot reach it
	// through DNS rebinding and read the clusters with the user's credentials.
	Hosts []string
	// Timeout bounds the cluster reads of one page (default 20s).
	Timeout time.Duration
	Now     func() time.Time
	// Token, when set, is this run's secret: a request must carry it (the
	// ?token= of the URL kube console prints, then a cookie), so that a web
	// page the user visits cannot drive a local console that reads the
	// clusters with the user's credentials. As Jupyter does.
	Token string
	// MaxConcurrent bounds the pages being served at once (default 8): each
	// reads every cluster.
	MaxConcurrent int
	// Viewers, when set, replaces Clusters: each request is served with the
	// viewer's own identity (a console in a cluster, behind a proxy).
	Viewers *Viewers

	tmpl *template.Template
	mux  *http.ServeMux
	busy chan struct{}
}

// TokenCookie holds the run's token once the printed URL was opened.
const TokenCookie = "kube_console_token"

// AppURL is the deep link to an app's page, relative to the console's URL.
// The CronJob notifier and alerts build theirs the same way.
func AppURL(cluster, namespace, app string) string {
	return contract.ConsoleAppPath(cluster, namespace, app)
}

// DiffURL is the deep link to the diff between two revisions of an app.
func DiffURL(cluster, namespace, app string, from, to int) string {
	return AppURL(cluster, namespace, app) + fmt.Sprintf("/diff?from=%d&to=%d", from, to)
}

// New prepares a server.
func New(s *Server) (*Server, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Timeout == 0 {
		s.Timeout = 20 * time.Second
	}
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = 8
	}
	s.busy = make(chan struct{}, s.MaxConcurrent)
	funcs := template.FuncMap{
		"appURL":   AppURL,
		"diffURL":  DiffURL,
		"diffBase": func(c, ns, app string) string { return AppURL(c, ns, app) + "/diff" },
		"prev":     func(n int) int { return n - 1 },
		"short":    shortImage,
		"ago":      func(t time.Time) string { return ago(s.Now(), t) },
		"until":    func(t time.Time) string { return until(s.Now(), t) },
		"lines":    func(d string) []string { return strings.Split(strings.TrimSuffix(d, "\n"), "\n") },
		"lineClass": func(l string) string {
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "@@"):
				return "hdr"
			case strings.HasPrefix(l, "+"):
				return "add"
			case strings.HasPrefix(l, "-"):
				return "del"
			}
			return ""
		},
		"statusClass": func(st string) string {
			switch st {
			case "Current":
				return "ok"
			case "InProgress", "Unknown":
				return "warn"
			}
			return "bad"
		},
		"outcomeClass": func(o string) string {
			return map[string]string{"succeeded": "ok", "failed": "bad", "running": "warn"}[o]
		},
		"lifecycleClass": func(l string) string {
			return map[string]string{catalog.Active: "ok", catalog.Deprecated: "warn", catalog.Retired: "bad", catalog.Experimental: "muted"}[l]
		},
		"serving": func(c *catalog.Catalog, d string) []*catalog.Component { return c.Serving(d) },
		"percent": func(p *float64) string {
			if p == nil {
				return "no data"
			}
			return fmt.Sprintf("%.3f%%", *p)
		},
		"minutes": func(m float64) string { return fmt.Sprintf("%.1f min", m) },
		"burn": func(rates map[string]float64, w string) string {
			if r, ok := rates[w]; ok {
				return fmt.Sprintf("%.2fx", r)
			}
			return "-"
		},
		"duration": func(d *time.Duration) string {
			if d == nil {
				return "-"
			}
			return duration.HumanDuration(*d)
		},
	}
	t, err := template.New("console").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s.tmpl = t
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", s.fleet)
	m.HandleFunc("GET /clusters/{cluster}/namespaces/{namespace}/apps/{app}", s.app)
	m.HandleFunc("GET /clusters/{cluster}/namespaces/{namespace}/apps/{app}/diff", s.diff)
	m.HandleFunc("GET /forks", s.forks)
	m.HandleFunc("GET /catalog", s.catalog)
	m.HandleFunc("GET /catalog/{name}", s.entity)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux = m
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the console is read-only", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path != "/healthz" && !s.hostAllowed(r.Host) { // probes come by the pod's IP
		http.Error(w, "unexpected Host header: open the console at the address kube console printed", http.StatusMisdirectedRequest)
		return
	}
	if !s.tokenAllowed(w, r) {
		return
	}
	r, ok := s.withViewer(w, r)
	if !ok {
		return
	}
	select {
	case s.busy <- struct{}{}:
		defer func() { <-s.busy }()
	case <-r.Context().Done():
		return
	case <-time.After(s.Timeout):
		http.Error(w, "the console is busy serving other pages: try again", http.StatusServiceUnavailable)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// tokenAllowed checks the run's token: from the cookie, or from ?token=, which
// then becomes the cookie and leaves the address bar (a redirect without it).
func (s *Server) tokenAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.Token == "" || r.URL.Path == "/healthz" {
		return true
	}
	if c, err := r.Cookie(TokenCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.Token)) == 1 {
		return true
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(s.Token)) == 1 {
		http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: s.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	http.Error(w, "open the console with the address kube console printed: it holds this run's token", http.StatusForbidden)
	return false
}

func (s *Server) hostAllowed(host string) bool {
	if len(s.Hosts) == 0 {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, a := range s.Hosts {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// page is what every template gets.
type page struct {
	Title string
	Now   time.Time
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer // whole, so that a template error never leaves half a page
	if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.Timeout)
}

func (s *Server) cluster(r *http.Request, name string) (Cluster, bool) {
	for _, c := range s.clustersFor(r) {
		if c.Name == name {
			return c, true
		}
	}
	return Cluster{}, false
}

func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	clusters := Fleet(ctx, s.clustersFor(r))
	n := 0
	for _, c := range clusters {
		n += len(c.Apps)
	}
	s.render(w, "fleet.html", struct {
		page
		Clusters []FleetCluster
		Apps     int
	}{page{"Fleet", s.Now()}, clusters, n})
}

func (s *Server) app(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cluster(r, r.PathValue("cluster"))
	if !ok {
		http.Error(w, "no cluster "+r.PathValue("cluster")+" in this console", http.StatusNotFound)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, app := r.PathValue("namespace"), r.PathValue("app")
	s.render(w, "app.html", struct {
		page
		Cluster, Namespace, App string
		View                    *AppView
	}{page{app, s.Now()}, c.Name, ns, app, App(ctx, c, ns, app, s.Now())})
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cluster(r, r.PathValue("cluster"))
	if !ok {
		http.Error(w, "no cluster "+r.PathValue("cluster")+" in this console", http.StatusNotFound)
		return
	}
	from, err1 := strconv.Atoi(r.URL.Query().Get("from"))
	to, err2 := strconv.Atoi(r.URL.Query().Get("to"))
	if err1 != nil || err2 != nil || from < 1 || to < 1 {
		http.Error(w, "from and to must be revision numbers", http.StatusBadRequest)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, app := r.PathValue("namespace"), r.PathValue("app")
	diffs, err := c.Deploy.RevisionDiff(ctx, app, ns, from, to)
	data := struct {
		page
		Cluster, Namespace, App string
		From, To                int
		Diffs                   []deploy.ObjectDiff
		Error                   string
	}{page: page{app + " diff", s.Now()}, Cluster: c.Name, Namespace: ns, App: app, From: from, To: to, Diffs: diffs}
	if err != nil {
		data.Error = err.Error()
	}
	s.render(w, "diff.html", data)
}

func (s *Server) forks(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	fs, errs := Forks(ctx, s.clustersFor(r))
	s.render(w, "forks", struct {
		page
		Forks  []forks.View
		Errors []string
	}{page{"Forks", s.Now()}, fs, errs})
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	s.render(w, "catalog", struct {
		page
		Catalog *catalog.Catalog
		Error   string
	}{page{"Catalog", s.Now()}, s.Catalog, s.CatalogErr})
}

func (s *Server) entity(w http.ResponseWriter, r *http.Request) {
	if s.Catalog == nil {
		http.Error(w, "no catalog: "+s.CatalogErr, http.StatusNotFound)
		return
	}
	name := r.PathValue("name")
	d, comp := s.Catalog.Domain(name), s.Catalog.Component(name)
	if d == nil && comp == nil {
		http.Error(w, "the catalog has no domain or component "+name, http.StatusNotFound)
		return
	}
	var serving []*catalog.Component
	if d != nil {
		serving = s.Catalog.Serving(name)
	}
	s.render(w, "entity", struct {
		page
		Domain     *catalog.Domain
		Component  *catalog.Component
		Components []*catalog.Component
	}{page{name, s.Now()}, d, comp, serving})
}

// ago is a short relative time, as kubectl prints ages.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t)) + " ago"
}

func until(now, t time.Time) string {
	if d := t.Sub(now); d > 0 {
		return "in " + duration.HumanDuration(d)
	}
	return "expired"
}
