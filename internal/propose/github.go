package propose

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"
)

// GitHub is the Forge of github.com and GitHub Enterprise, through go-github.
type GitHub struct {
	c *github.Client
}

// NewGitHub returns a GitHub forge authenticated with token; apiURL is the
// REST API's base ("" for github.com; GitHub Actions gives $GITHUB_API_URL).
func NewGitHub(token, apiURL string) (*GitHub, error) {
	c, err := NewGitHubClient(token, apiURL, "kube-generate")
	if err != nil {
		return nil, err
	}
	return &GitHub{c: c}, nil
}

// NewGitHubClient is a go-github client for kube's commands that talk to GitHub.
func NewGitHubClient(token, apiURL, userAgent string) (*github.Client, error) {
	opts := []github.ClientOptionsFunc{github.WithAuthToken(token), github.WithTimeout(60 * time.Second), github.WithUserAgent(userAgent)}
	if apiURL != "" {
		base := strings.TrimSuffix(apiURL, "/") + "/"
		opts = append(opts, github.WithURLs(&base, &base))
	}
	return github.NewClient(opts...)
}

// OpenPullRequests lists open pull requests page by page and keeps those
// whose head branch, in the repository itself, starts with prefix.
func (g *GitHub) OpenPullRequests(ctx context.Context, repo Repo, prefix string) ([]PullRequest, error) {
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}}
	var out []PullRequest
	for {
		prs, resp, err := g.c.PullRequests.List(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, APIError("listing pull requests", err)
		}
		for _, pr := range prs {
			head := pr.GetHead()
			if !strings.HasPrefix(head.GetRef(), prefix) || !sameRepo(head.GetRepo(), repo) {
				continue
			}
			out = append(out, PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Head: head.GetRef(), Body: pr.GetBody()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func (g *GitHub) ClosedUnmerged(ctx context.Context, repo Repo, head string) (PullRequest, bool, error) {
	prs, _, err := g.c.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{State: "closed", Head: repo.Owner + ":" + head, ListOptions: github.ListOptions{PerPage: 10}})
	if err != nil {
		return PullRequest{}, false, APIError("listing closed pull requests", err)
	}
	for _, pr := range prs {
		if pr.MergedAt == nil && pr.GetHead().GetRef() == head {
			return PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Head: head}, true, nil
		}
	}
	return PullRequest{}, false, nil
}

// sameRepo: a pull request from a fork with a branch of the same name is not
// kube's.
func sameRepo(r *github.Repository, repo Repo) bool {
	return r == nil || strings.EqualFold(r.GetFullName(), repo.String()) || r.GetFullName() == ""
}

func (g *GitHub) Create(ctx context.Context, repo Repo, pr NewPullRequest) (PullRequest, error) {
	created, _, err := g.c.PullRequests.Create(ctx, repo.Owner, repo.Name, &github.NewPullRequest{
		Title: &pr.Title, Body: &pr.Body, Head: &pr.Head, Base: &pr.Base, MaintainerCanModify: github.Ptr(true),
	})
	if err != nil {
		return PullRequest{}, APIError("opening the pull request", err)
	}
	out := PullRequest{Number: created.GetNumber(), URL: created.GetHTMLURL(), Head: pr.Head, Body: pr.Body}
	if err := g.labels(ctx, repo, out.Number, pr.Labels); err != nil {
		return out, err
	}
	if len(pr.TeamReviewers) > 0 {
		if _, _, err := g.c.PullRequests.RequestReviewers(ctx, repo.Owner, repo.Name, out.Number, github.ReviewersRequest{TeamReviewers: pr.TeamReviewers}); err != nil {
			return out, APIError(fmt.Sprintf("asking %s to review #%d", strings.Join(pr.TeamReviewers, ", "), out.Number), err)
		}
	}
	return out, nil
}

func (g *GitHub) Update(ctx context.Context, repo Repo, number int, pr NewPullRequest) error {
	if _, _, err := g.c.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, &github.PullRequest{Title: &pr.Title, Body: &pr.Body}); err != nil {
		return APIError(fmt.Sprintf("updating #%d", number), err)
	}
	return g.labels(ctx, repo, number, pr.Labels)
}

func (g *GitHub) labels(ctx context.Context, repo Repo, number int, labels []string) error {
	if len(labels) == 0 {
		return nil
	}
	if _, _, err := g.c.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return APIError(fmt.Sprintf("labelling #%d", number), err)
	}
	return nil
}

func (g *GitHub) Close(ctx context.Context, repo Repo, number int, comment string) error {
	if _, _, err := g.c.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: &comment}); err != nil {
		return APIError(fmt.Sprintf("commenting on #%d", number), err)
	}
	if _, _, err := g.c.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, &github.PullRequest{State: github.Ptr("closed")}); err != nil {
		return APIError(fmt.Sprintf("closing #%d", number), err)
	}
	return nil
}

// APIError says what failed and GitHub's answer, and what a 401/403/404
// usually means for a bot token.
func APIError(what string, err error) error {
	if e, ok := err.(*github.ErrorResponse); ok && e.Response != nil {
		switch e.Response.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: GitHub refused the token (401): check $GITHUB_TOKEN", what)
		case http.StatusForbidden, http.StatusNotFound:
			return fmt.Errorf("%s: GitHub answered %d %s: the token needs pull-requests: write and contents: write on the repository", what, e.Response.StatusCode, e.Message)
		}
		return fmt.Errorf("%s: GitHub answered %d %s", what, e.Response.StatusCode, e.Message)
	}
	return fmt.Errorf("%s: %w", what, err)
}
