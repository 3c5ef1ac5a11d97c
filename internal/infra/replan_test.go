package infra

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Open pull requests planned against the applied root are asked to plan
// again; the merged one, and those of other roots, are left alone.
func TestReplanAsksPullRequestsOfTheSameRoot(t *testing.T) {
	comments := map[string][]map[string]any{
		"41": {{"id": 1, "body": CommentMarker("envs/prod") + "\nmerged"}},
		"50": {{"id": 2, "body": "a review"}, {"id": 3, "body": CommentMarker("envs/prod") + "\n### plan"}},
		"51": {{"id": 4, "body": CommentMarker("envs/dev") + "\n### plan"}},
	}
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method+" "+r.URL.Path)
		const repo = "/repos/acme/infra"
		switch {
		case r.Method == "GET" && r.URL.Path == repo+"/pulls" && r.URL.Query().Get("state") == "open":
			json.NewEncoder(w).Encode([]map[string]any{
				{"number": 41}, {"number": 50, "labels": []map[string]any{{"name": ReplanLabel}}}, {"number": 51}, {"number": 52},
			})
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/comments"):
			n := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, repo+"/issues/"), "/comments")
			json.NewEncoder(w).Encode(comments[n])
		case r.Method == "PATCH" && r.URL.Path == repo+"/issues/comments/3":
			var in map[string]any
			json.NewDecoder(r.Body).Decode(&in)
			comments["50"][1]["body"] = in["body"]
			json.NewEncoder(w).Encode(comments["50"][1])
		case r.Method == "DELETE" && r.URL.Path == repo+"/issues/50/labels/"+ReplanLabel:
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("[]"))
		case r.Method == "POST" && r.URL.Path == repo+"/issues/50/labels":
			w.Write([]byte(`[{"name":"` + ReplanLabel + `"}]`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	o := ReplanOptions{Root: "envs/prod", Applied: 41, Commit: "abcdef0123456789", Repository: "acme/infra", Token: "t", APIURL: srv.URL}
	for range 2 {
		got, err := Replan(context.Background(), o)
		if err != nil || len(got) != 1 || got[0].Number != 50 {
			t.Fatalf("replanned %+v, %v", got, err)
		}
	}
	body := comments["50"][1]["body"].(string)
	if !strings.HasPrefix(body, CommentMarker("envs/prod")+"\n"+staleMark) || strings.Count(body, staleMark) != 1 || !strings.HasSuffix(body, "### plan") || !strings.Contains(body, "after #41") {
		t.Errorf("stale comment:\n%s", body)
	}
	if strings.Join(calls, "\n") == "" || !strings.Contains(strings.Join(calls, "\n"), "DELETE /repos/acme/infra/issues/50/labels/"+ReplanLabel) {
		t.Errorf("the label was not set afresh: %v", calls)
	}
}
