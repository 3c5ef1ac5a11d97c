package infra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// fakeGitHub is GitHub's issue comments API for one pull request: it checks
// each request's method, path, token and body (JSON with a body of at most
// GitHub's limit) and keeps the comments, two pages of them.
type fakeGitHub struct {
	t        *testing.T
	mu       sync.Mutex
	comments []map[string]any
	requests []string
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer t0ken" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	body := func() (string, bool) {
		var in struct{ Body *string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil || utf8.RuneCountInString(*in.Body) > CommentLimit {
			http.Error(w, `{"message":"Validation Failed"}`, http.StatusUnprocessableEntity)
			return "", false
		}
		return *in.Body, true
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/repos/acme/infra/issues/42/comments":
		page := g.comments
		if r.URL.Query().Get("page") == "2" {
			page = g.comments[min(1, len(g.comments)):]
		} else if len(g.comments) > 1 {
			page = g.comments[:1]
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=2>; rel="next"`, r.Host, r.URL.Path))
		}
		json.NewEncoder(w).Encode(page)
	case r.Method == http.MethodPost && r.URL.Path == "/repos/acme/infra/issues/42/comments":
		b, ok := body()
		if !ok {
			return
		}
		id := len(g.comments) + 1
		c := map[string]any{"id": id, "body": b, "html_url": fmt.Sprintf("https://github.com/acme/infra/pull/42#issuecomment-%d", id)}
		g.comments = append(g.comments, c)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(c)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/repos/acme/infra/issues/comments/"):
		b, ok := body()
		if !ok {
			return
		}
		for _, c := range g.comments {
			if fmt.Sprint(c["id"]) == strings.TrimPrefix(r.URL.Path, "/repos/acme/infra/issues/comments/") {
				c["body"] = b
				json.NewEncoder(w).Encode(c)
				return
			}
		}
		http.NotFound(w, r)
	default:
		g.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// One comment per root, updated in place even when it is on a later page of
// comments; another root gets its own.
func TestPostUpdatesTheRootsComment(t *testing.T) {
	gh := &fakeGitHub{t: t, comments: []map[string]any{{"id": 1, "body": "a reviewer's comment", "html_url": "u1"}}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	post := func(root, text string) Posted {
		t.Helper()
		s := planSummary()
		s.Root = root
		if err := os.WriteFile(filepath.Join(dir, CommentFile), []byte(Comment(s, text, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Post(context.Background(), CommentOptions{Dir: dir, Repository: "acme/infra", PR: 42, Token: "t0ken", APIURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := post("envs/a", "first"); p.Updated {
		t.Fatalf("first post: %+v", p)
	}
	if p := post("envs/a", strings.Repeat("x\n", 50000)); !p.Updated || p.URL != "https://github.com/acme/infra/pull/42#issuecomment-2" {
		t.Fatalf("second post of the same root: %+v", p)
	}
	post("envs/b", "other")
	if len(gh.comments) != 3 || strings.Contains(gh.comments[1]["body"].(string), "first") || !strings.Contains(gh.comments[1]["body"].(string), "cut here") {
		t.Fatalf("comments: %d, %v", len(gh.comments), gh.requests)
	}
}

func TestPostRefusesBadInputAndNamesGitHubsAnswer(t *testing.T) {
	srv := httptest.NewServer(&fakeGitHub{t: t})
	defer srv.Close()
	dir := t.TempDir()
	if _, err := Post(context.Background(), CommentOptions{Dir: dir, Repository: "acme/infra", PR: 42, Token: "t0ken", APIURL: srv.URL}); err == nil || !strings.Contains(err.Error(), "no comment to post") {
		t.Errorf("no comment.md: %v", err)
	}
	os.WriteFile(filepath.Join(dir, CommentFile), []byte(CommentMarker("r")+"\nx"), 0o644)
	for _, o := range []CommentOptions{{Repository: "acme", PR: 42, Token: "t0ken"}, {Repository: "acme/infra", Token: "t0ken"}, {Repository: "acme/infra", PR: 42}} {
		o.Dir, o.APIURL = dir, srv.URL
		if _, err := Post(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	_, err := Post(context.Background(), CommentOptions{Dir: dir, Repository: "acme/infra", PR: 42, Token: "wrong", APIURL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "GitHub refused the token (401)") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a refused token: %v", err)
	}
}
