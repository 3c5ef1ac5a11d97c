package infra

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/propose"
)

// ReplanLabel asks the workflow to plan a pull request again (its labeled
// trigger); kube infra replan sets it.
const ReplanLabel = "kube-infra-replan"

// ReplanOptions say which root was applied, after which pull request.
type ReplanOptions struct {
	Root string
	// Applied is the merged pull request (not asked); Commit the applied commit.
	Applied    int
	Commit     string
	Repository string
	Token      string
	APIURL     string
}

// Replanned is an open pull request asked to plan again.
type Replanned struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// staleMark opens the line kube infra replan puts under a plan comment's marker.
const staleMark = "> :warning: **Stale:**"

// Replan asks every open pull request that has a plan comment of the root
// (it was planned against the same root) to plan again, now that an apply
// changed the root's state: the comment says its plan is stale (an apply of
// it would be refused), and the replan label is set afresh, so that the
// workflow plans it from the new state. Labels set with the workflow's own
// GITHUB_TOKEN start no workflow: give it a GitHub App's token.
func Replan(ctx context.Context, o ReplanOptions) ([]Replanned, error) {
	repo, err := ParsePullRequest(o.Repository, max(o.Applied, 1))
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	if o.Token == "" {
		return nil, exitstatus.Input(fmt.Errorf("no GitHub token: set GITHUB_TOKEN (pull-requests: write)"))
	}
	c, err := propose.NewGitHubClient(o.Token, o.APIURL, "kube-infra")
	if err != nil {
		return nil, err
	}
	marker := CommentMarker(o.Root)
	out := []Replanned{}
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}}
	for {
		prs, resp, err := c.PullRequests.List(ctx, repo.Owner, repo.Repo, opts)
		if err != nil {
			return nil, propose.APIError("listing open pull requests", err)
		}
		for _, pr := range prs {
			if pr.GetNumber() == o.Applied {
				continue
			}
			asked, err := askToReplan(ctx, c, PullRequest{repo.Owner, repo.Repo, pr.GetNumber()}, marker, o, pr.Labels)
			if err != nil {
				return nil, err
			}
			if asked {
				out = append(out, Replanned{Number: pr.GetNumber(), URL: pr.GetHTMLURL()})
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func askToReplan(ctx context.Context, c *github.Client, pr PullRequest, marker string, o ReplanOptions, labels []*github.Label) (bool, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := c.Issues.ListComments(ctx, pr.Owner, pr.Repo, pr.Number, opts)
		if err != nil {
			return false, propose.APIError(fmt.Sprintf("listing the comments of #%d", pr.Number), err)
		}
		for _, cm := range comments {
			first, rest, _ := strings.Cut(cm.GetBody(), "\n")
			if first != marker {
				continue
			}
			if line, after, ok := strings.Cut(rest, "\n"); ok && strings.HasPrefix(line, staleMark) {
				rest = after // one notice, the newest
			}
			body := fmt.Sprintf("%s\n%s `%s` was applied at %s after #%d: this plan was made from the state before, and its apply would be refused. It is being planned again.\n%s",
				marker, staleMark, o.Root, short(o.Commit), o.Applied, rest)
			if _, _, err := c.Issues.EditComment(ctx, pr.Owner, pr.Repo, cm.GetID(), &github.IssueComment{Body: &body}); err != nil {
				return false, propose.APIError(fmt.Sprintf("marking the plan comment of #%d stale", pr.Number), err)
			}
			if slices.ContainsFunc(labels, func(l *github.Label) bool { return l.GetName() == ReplanLabel }) {
				if resp, err := c.Issues.RemoveLabelForIssue(ctx, pr.Owner, pr.Repo, pr.Number, ReplanLabel); err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
					return false, propose.APIError(fmt.Sprintf("taking %s off #%d", ReplanLabel, pr.Number), err)
				}
			}
			if _, _, err := c.Issues.AddLabelsToIssue(ctx, pr.Owner, pr.Repo, pr.Number, []string{ReplanLabel}); err != nil {
				return false, propose.APIError(fmt.Sprintf("labelling #%d %s", pr.Number, ReplanLabel), err)
			}
			return true, nil
		}
		if resp.NextPage == 0 {
			return false, nil
		}
		opts.Page = resp.NextPage
	}
}
