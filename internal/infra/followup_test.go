package infra

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/slack"
	"github.com/kube-idp/kube/internal/slack/slacktest"
)

// followUpGitHub answers the calls a follow-up makes, checking each one's
// shape, and keeps the branches and pull requests it was asked to create.
type followUpGitHub struct {
	t        *testing.T
	mu       sync.Mutex
	branches map[string]string // name -> commit
	pulls    []map[string]any
	tree     map[string]any // the last tree asked for
}

func (g *followUpGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var in map[string]any
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		json.Unmarshal(data, &in)
	}
	const repo = "/repos/acme/infra"
	switch {
	case r.Method == "GET" && r.URL.Path == repo+"/pulls/42":
		json.NewEncoder(w).Encode(map[string]any{"number": 42, "base": map[string]any{"ref": "main"}})
	case r.Method == "GET" && r.URL.Path == repo+"/pulls":
		var open []map[string]any
		for _, p := range g.pulls {
			if "acme:"+p["head"].(map[string]any)["ref"].(string) == r.URL.Query().Get("head") && r.URL.Query().Get("state") == "open" {
				open = append(open, p)
			}
		}
		json.NewEncoder(w).Encode(open)
	case r.Method == "GET" && r.URL.Path == repo+"/git/commits/0123456789abcdef":
		json.NewEncoder(w).Encode(map[string]any{"sha": "0123456789abcdef", "tree": map[string]any{"sha": "tree0"}})
	case r.Method == "POST" && r.URL.Path == repo+"/git/trees":
		if in["base_tree"] != "tree0" {
			g.t.Errorf("tree based on %v", in["base_tree"])
		}
		g.tree = in
		json.NewEncoder(w).Encode(map[string]any{"sha": "tree1"})
	case r.Method == "POST" && r.URL.Path == repo+"/git/commits":
		if in["tree"] != "tree1" || fmt.Sprint(in["parents"]) != "[0123456789abcdef]" {
			g.t.Errorf("commit: %v", in)
		}
		json.NewEncoder(w).Encode(map[string]any{"sha": "c1"})
	case r.Method == "POST" && r.URL.Path == repo+"/git/refs":
		name := strings.TrimPrefix(in["ref"].(string), "refs/heads/")
		if _, ok := g.branches[name]; ok {
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"message":"Reference already exists"}`))
			return
		}
		g.branches[name] = in["sha"].(string)
		json.NewEncoder(w).Encode(map[string]any{"ref": in["ref"]})
	case r.Method == "POST" && r.URL.Path == repo+"/pulls":
		if _, ok := g.branches[in["head"].(string)]; !ok || in["base"] != "main" {
			g.t.Errorf("pull request: %v", in)
		}
		p := map[string]any{"number": 43 + len(g.pulls), "head": map[string]any{"ref": in["head"]}, "body": in["body"], "title": in["title"],
			"html_url": fmt.Sprintf("https://github.com/acme/infra/pull/%d", 43+len(g.pulls))}
		g.pulls = append(g.pulls, p)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(p)
	default:
		g.t.Errorf("unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// A failed apply gets one follow-up pull request (a re-run finds it), and the
// root's team is told on its channel, through the webhook of kube's routing.
func TestFollowUpOpensAPullRequestAndTellsTheTeam(t *testing.T) {
	gh := &followUpGitHub{t: t, branches: map[string]string{}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	hook, hookURL := slacktest.New(t)

	repo, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(repo, FileName), []byte("version: 1.12.6\n"), 0o644)
	os.MkdirAll(filepath.Join(repo, "envs/prod"), 0o755)
	os.WriteFile(filepath.Join(repo, "envs/prod", FileName), []byte("team: payments\nslack: '#payments-infra'\n"), 0o644)
	r := ApplyResult{Root: "envs/prod", Commit: "0123456789abcdef", Error: "Error: quota exceeded"}
	data, _ := json.Marshal(r)
	os.WriteFile(filepath.Join(dir, ApplyFile), data, 0o644)
	hooks := filepath.Join(t.TempDir(), "hooks.yaml")
	os.WriteFile(hooks, []byte("payments-infra: "+hookURL+"\n"), 0o600)
	o := FollowUpOptions{Repo: repo, Root: "envs/prod", PlanDir: dir, Repository: "acme/infra", PR: 42, Token: "t", APIURL: srv.URL,
		SlackWebhooks: hooks, Slack: &slack.Client{Wait: func(context.Context, time.Duration) error { return nil }}}

	f, err := FollowUpAfterApply(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f.PullRequest != "https://github.com/acme/infra/pull/43" || f.Existing || f.Slack != "#payments-infra" || f.SlackProblem != "" {
		t.Fatalf("follow-up: %+v", f)
	}
	entry := gh.tree["tree"].([]any)[0].(map[string]any)
	if entry["path"] != "envs/prod/"+FollowUpFile || !strings.Contains(entry["content"].(string), "#42") {
		t.Errorf("the follow-up's file: %v", entry)
	}
	body := gh.pulls[0]["body"].(string)
	if !strings.Contains(body, "Error: quota exceeded") || !strings.Contains(body, "Owner: payments") || gh.pulls[0]["head"].(map[string]any)["ref"] != FollowUpBranch("envs/prod", r.Commit) {
		t.Errorf("pull request: %v", gh.pulls[0])
	}
	if texts := hook.Texts(); len(texts) != 1 || !strings.Contains(texts[0], "acme/infra#42") || !strings.Contains(texts[0], f.PullRequest) {
		t.Errorf("slack: %+v", texts)
	}

	again, err := FollowUpAfterApply(context.Background(), o)
	if err != nil || !again.Existing || again.PullRequest != f.PullRequest || len(gh.pulls) != 1 {
		t.Fatalf("a re-run: %+v %v (%d pull requests)", again, err, len(gh.pulls))
	}

	// An apply that succeeded needs nothing; a channel without a webhook is said.
	os.WriteFile(hooks, []byte("other: "+hookURL+"\n"), 0o600)
	gh.pulls = nil
	f, err = FollowUpAfterApply(context.Background(), o)
	if err != nil || !strings.Contains(f.SlackProblem, `no webhook for #payments-infra (key "payments-infra")`) || strings.Contains(f.SlackProblem, "SECRETPART") {
		t.Fatalf("no webhook: %+v %v", f, err)
	}
	// A webhook Slack refuses: said, its URL never shown.
	_, refusedURL := slacktest.New(t, http.StatusNotFound)
	os.WriteFile(hooks, []byte("payments-infra: "+refusedURL+"\n"), 0o600)
	f, err = FollowUpAfterApply(context.Background(), o)
	if err != nil || !strings.Contains(f.SlackProblem, "HTTP 404") || strings.Contains(f.SlackProblem, "SECRETPART") || strings.Contains(f.SlackProblem, "xoxb-") {
		t.Fatalf("a refused webhook: %+v %v", f, err)
	}
	data, _ = json.Marshal(ApplyResult{Root: "envs/prod", Commit: "0123456789abcdef", Applied: true})
	os.WriteFile(filepath.Join(dir, ApplyFile), data, 0o644)
	if f, err := FollowUpAfterApply(context.Background(), o); err != nil || f.PullRequest != "" {
		t.Fatalf("after a successful apply: %+v %v", f, err)
	}
}
