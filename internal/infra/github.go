package infra

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v89/github"

	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/propose"
)

// PullRequest names a pull request on GitHub.
type PullRequest struct {
	Owner, Repo string
	Number      int
}

// ParsePullRequest reads owner/name and the number.
func ParsePullRequest(repository string, number int) (PullRequest, error) {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return PullRequest{}, fmt.Errorf("%q is not a repository: name it owner/name (GitHub Actions gives $GITHUB_REPOSITORY)", repository)
	}
	if number <= 0 {
		return PullRequest{}, fmt.Errorf("name the pull request with --pr NUMBER")
	}
	return PullRequest{Owner: owner, Repo: name, Number: number}, nil
}

// Posted is what kube infra comment did.
type Posted struct {
	URL string `json:"url"`
	// Updated: the root's earlier comment was edited in place.
	Updated bool `json:"updated"`
}

// PostComment puts body on the pull request: in place of the comment that
// opens with the same marker (its first line) if there is one, else as a new
// comment, so that a root has one comment however often it is planned.
func PostComment(ctx context.Context, c *github.Client, pr PullRequest, body string) (Posted, error) {
	if n := utf8.RuneCountInString(body); n > CommentLimit {
		return Posted{}, fmt.Errorf("the comment has %d characters, GitHub takes %d", n, CommentLimit)
	}
	marker, _, _ := strings.Cut(body, "\n")
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := c.Issues.ListComments(ctx, pr.Owner, pr.Repo, pr.Number, opts)
		if err != nil {
			return Posted{}, propose.APIError(fmt.Sprintf("listing the comments of pull request #%d", pr.Number), err)
		}
		for _, old := range comments {
			if first, _, _ := strings.Cut(old.GetBody(), "\n"); first == marker {
				edited, _, err := c.Issues.EditComment(ctx, pr.Owner, pr.Repo, old.GetID(), &github.IssueComment{Body: &body})
				if err != nil {
					return Posted{}, propose.APIError("updating the comment", err)
				}
				return Posted{URL: edited.GetHTMLURL(), Updated: true}, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	created, _, err := c.Issues.CreateComment(ctx, pr.Owner, pr.Repo, pr.Number, &github.IssueComment{Body: &body})
	if err != nil {
		return Posted{}, propose.APIError(fmt.Sprintf("commenting on pull request #%d", pr.Number), err)
	}
	return Posted{URL: created.GetHTMLURL()}, nil
}

// CommentOptions say which comment to post where.
type CommentOptions struct {
	// Dir is kube infra plan's output directory; with Apply, the apply's
	// comment in it is posted (on the merged pull request) instead of the plan's.
	Dir   string
	Apply bool
	// Repository is owner/name; PR the pull request's number.
	Repository string
	PR         int
	// Token and APIURL reach GitHub (GITHUB_TOKEN and GITHUB_API_URL in Actions).
	Token, APIURL string
}

// Post posts the plan's (or the apply's) comment of a root on its pull request.
func Post(ctx context.Context, o CommentOptions) (Posted, error) {
	pr, err := ParsePullRequest(o.Repository, o.PR)
	if err != nil {
		return Posted{}, exitstatus.Input(err)
	}
	name := CommentFile
	if o.Apply {
		name = ApplyComment
	}
	body, err := os.ReadFile(filepath.Join(o.Dir, name))
	if err != nil {
		return Posted{}, exitstatus.Input(fmt.Errorf("%s: no comment to post (run kube infra plan --out %s first, or apply for --apply): %w", o.Dir, o.Dir, err))
	}
	if o.Token == "" {
		return Posted{}, exitstatus.Input(fmt.Errorf("no GitHub token: set GITHUB_TOKEN (in GitHub Actions, env: GITHUB_TOKEN: ${{ github.token }} with permissions pull-requests: write)"))
	}
	c, err := propose.NewGitHubClient(o.Token, o.APIURL, "kube-infra")
	if err != nil {
		return Posted{}, err
	}
	return PostComment(ctx, c, pr, string(body))
}
