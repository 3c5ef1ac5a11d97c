package propose

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// gitServer serves bare repositories under root over git's smart HTTP
// protocol with git's own http-backend, behind a check of kube's token.
type gitServer struct {
	root string
	srv  *httptest.Server
	// unauthenticated counts requests without the token (refused).
	mu              sync.Mutex
	unauthenticated int
}

func newGitServer(t testing.TB, token string) *gitServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	s := &gitServer{root: t.TempDir()}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=kube"}, Stderr: io.Discard}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			s.mu.Lock()
			s.unauthenticated++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// create makes owner/name.git with main as its default branch and returns
// its URL.
func (s *gitServer) create(t testing.TB, owner, name string) string {
	t.Helper()
	dir := filepath.Join(s.root, owner, name+".git")
	gitIn(t, "", "init", "--quiet", "--bare", "-b", "main", dir)
	gitIn(t, dir, "config", "http.receivepack", "true")
	return s.srv.URL + "/" + owner + "/" + name + ".git"
}

// bare is the repository's directory on the server.
func (s *gitServer) bare(owner, name string) string {
	return filepath.Join(s.root, owner, name+".git")
}

// ref is a branch's commit on the server ("" without the branch).
func (s *gitServer) ref(t testing.TB, owner, name, branch string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", s.bare(owner, name), "rev-parse", "--verify", "--quiet", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// rejectPushes installs a pre-receive hook that refuses every push.
func (s *gitServer) rejectPushes(t testing.TB, owner, name string, on bool) {
	t.Helper()
	hook := filepath.Join(s.bare(owner, name), "hooks", "pre-receive")
	if !on {
		_ = os.Remove(hook)
		return
	}
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'protected by policy: no pushes' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fakePR is a pull request as the fake GitHub holds it.
type fakePR struct {
	Number        int
	Title, Body   string
	Head, Base    string
	State         string
	Labels        []string
	TeamReviewers []string
	Comments      []string
}

// fakeGitHub is GitHub's REST API for pull requests, as far as kube uses it:
// every request is checked (token, method, path, body) and the pull requests'
// state is kept between runs.
type fakeGitHub struct {
	t     testing.TB
	token string
	git   *gitServer
	srv   *httptest.Server
	mu    sync.Mutex
	prs   map[string][]*fakePR // by owner/name
	// calls are "METHOD path" of every request.
	calls []string
}

func newFakeGitHub(t testing.TB, token string, git *gitServer) *fakeGitHub {
	g := &fakeGitHub{t: t, token: token, git: git, prs: map[string][]*fakePR{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", g.list)
	mux.HandleFunc("POST /repos/{owner}/{repo}/pulls", g.create)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/pulls/{n}", g.edit)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{n}/comments", g.comment)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{n}/labels", g.labels)
	mux.HandleFunc("POST /repos/{owner}/{repo}/pulls/{n}/requested_reviewers", g.reviewers)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.calls = append(g.calls, r.Method+" "+r.URL.Path)
		g.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) json(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *fakeGitHub) wire(owner, repo string, p *fakePR) map[string]any {
	state, merged := p.State, any(nil)
	if state == "merged" {
		state, merged = "closed", "2026-12-01T10:00:00Z"
	}
	return map[string]any{
		"number": p.Number, "state": state, "merged_at": merged, "title": p.Title, "body": p.Body,
		"html_url": fmt.Sprintf("https://github.example/%s/%s/pull/%d", owner, repo, p.Number),
		"head":     map[string]any{"ref": p.Head, "repo": map[string]any{"full_name": owner + "/" + repo}},
		"base":     map[string]any{"ref": p.Base},
	}
}

func (g *fakeGitHub) find(r *http.Request) (*fakePR, bool) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	for _, p := range g.prs[r.PathValue("owner")+"/"+r.PathValue("repo")] {
		if p.Number == n {
			return p, true
		}
	}
	return nil, false
}

func (g *fakeGitHub) list(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	state, head := r.URL.Query().Get("state"), r.URL.Query().Get("head")
	if state != "open" && state != "closed" {
		g.t.Errorf("list with state %q", state)
	}
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	out := []map[string]any{}
	for _, p := range g.prs[owner+"/"+repo] {
		if (state == "open") != (p.State == "open") || (head != "" && head != owner+":"+p.Head) {
			continue
		}
		out = append(out, g.wire(owner, repo, p))
	}
	// Pages of one, with GitHub's Link header: the client must follow them.
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	if page < len(out) {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, g.srv.URL, next.RequestURI()))
	}
	if page <= len(out) {
		out = out[page-1 : page]
	} else {
		out = []map[string]any{}
	}
	g.json(w, http.StatusOK, out)
}

func (g *fakeGitHub) create(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var in struct{ Title, Body, Head, Base string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" || in.Head == "" || in.Base == "" {
		g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"})
		return
	}
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	// As GitHub: the head branch must exist, and one open pull request per head.
	if g.git.ref(g.t, owner, repo, in.Head) == "" {
		g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed: head " + in.Head + " does not exist"})
		return
	}
	key := owner + "/" + repo
	for _, p := range g.prs[key] {
		if p.State == "open" && p.Head == in.Head {
			g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "A pull request already exists for " + in.Head})
			return
		}
	}
	p := &fakePR{Number: len(g.prs[key]) + 1, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base, State: "open"}
	g.prs[key] = append(g.prs[key], p)
	g.json(w, http.StatusCreated, g.wire(owner, repo, p))
}

func (g *fakeGitHub) edit(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.find(r)
	if !ok {
		g.json(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	var in struct {
		Title, Body, State *string
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	if p.State != "open" {
		g.t.Errorf("#%d edited while %s", p.Number, p.State)
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil {
		p.State = *in.State
	}
	g.json(w, http.StatusOK, g.wire(r.PathValue("owner"), r.PathValue("repo"), p))
}

func (g *fakeGitHub) comment(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.find(r)
	var in struct{ Body string }
	if !ok || json.NewDecoder(r.Body).Decode(&in) != nil || in.Body == "" {
		g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"})
		return
	}
	p.Comments = append(p.Comments, in.Body)
	g.json(w, http.StatusCreated, map[string]any{"id": len(p.Comments), "body": in.Body})
}

func (g *fakeGitHub) labels(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.find(r)
	var in []string
	if !ok || json.NewDecoder(r.Body).Decode(&in) != nil || len(in) == 0 {
		g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"})
		return
	}
	for _, l := range in {
		if !contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	g.json(w, http.StatusOK, []map[string]any{})
}

func (g *fakeGitHub) reviewers(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.find(r)
	var in struct {
		TeamReviewers []string `json:"team_reviewers"`
	}
	if !ok || json.NewDecoder(r.Body).Decode(&in) != nil {
		g.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"})
		return
	}
	p.TeamReviewers = append(p.TeamReviewers, in.TeamReviewers...)
	g.json(w, http.StatusCreated, g.wire(r.PathValue("owner"), r.PathValue("repo"), p))
}

// open are the repository's open pull requests from kube's branches.
func (g *fakeGitHub) open(key string) []*fakePR {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*fakePR
	for _, p := range g.prs[key] {
		if p.State == "open" && strings.HasPrefix(p.Head, BranchPrefix) {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
