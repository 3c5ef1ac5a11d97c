package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v89/github"
	"sigs.k8s.io/yaml"

	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/propose"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/slack"
)

// FollowUpOptions say which apply to follow up.
type FollowUpOptions struct {
	Repo, Root string
	// PlanDir holds the apply's result (apply.json).
	PlanDir string
	// Repository (owner/name) and PR, the merged pull request.
	Repository    string
	PR            int
	Token, APIURL string
	// SlackWebhooks is a YAML file of channel (without #) to incoming webhook
	// URL, the keys of kube-controller's slack-webhooks Secret; "" sends nothing.
	SlackWebhooks string
	LogURL        string
	Slack         *slack.Client
}

// FollowUp is what kube infra follow-up did.
type FollowUp struct {
	Root string `json:"root"`
	// PullRequest is the follow-up pull request's URL ("" when the apply succeeded).
	PullRequest string `json:"pullRequest,omitempty"`
	// Existing: the follow-up pull request was already open (a re-run).
	Existing bool `json:"existing,omitempty"`
	// Slack is the channel told, "" when none.
	Slack string `json:"slack,omitempty"`
	// SlackProblem says why the team was not told on Slack.
	SlackProblem string `json:"slackProblem,omitempty"`
}

// FollowUpAfterApply acts on an apply that failed or was refused after merge:
// it opens a follow-up pull request from the merged commit (one file in the
// root names the failed apply, so that the workflow plans the root again and
// the team's fix has a place) and
// tells the root's Slack channel. An apply that succeeded needs nothing.
func FollowUpAfterApply(ctx context.Context, o FollowUpOptions) (*FollowUp, error) {
	_, root, err := loadRoot(o.Repo, o.Root)
	if err != nil {
		return nil, err
	}
	r, err := readApplyResult(o.PlanDir)
	if err != nil {
		return nil, err
	}
	out := &FollowUp{Root: root}
	if r.Applied {
		return out, nil
	}
	if r.Root != root {
		return nil, exitstatus.Input(fmt.Errorf("%s holds the apply of %s, not of %s", o.PlanDir, r.Root, root))
	}
	pr, err := ParsePullRequest(o.Repository, o.PR)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	if o.Token == "" {
		return nil, exitstatus.Input(errors.New("no GitHub token: set GITHUB_TOKEN (contents: write and pull-requests: write)"))
	}
	owner, err := os.ReadFile(filepath.Join(o.Repo, filepath.FromSlash(root), FileName))
	if err != nil {
		return nil, err
	}
	rf, err := CheckRoot(filepath.Join(root, FileName), owner)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	c, err := propose.NewGitHubClient(o.Token, o.APIURL, "kube-infra")
	if err != nil {
		return nil, err
	}
	if out.PullRequest, out.Existing, err = openFollowUp(ctx, c, pr, r, rf); err != nil {
		return nil, err
	}
	out.Slack, out.SlackProblem = notify(ctx, o, rf, r, pr, out.PullRequest)
	return out, nil
}

// FollowUpFile is written into the root by the follow-up pull request.
const FollowUpFile = ".kube-infra-follow-up"

// FollowUpBranch is the follow-up pull request's branch of a root's failed
// apply at a commit.
func FollowUpBranch(root, commit string) string {
	return "kube-infra/follow-up/" + strings.TrimPrefix(ArtifactName(root), "kube-infra-plan-") + "-" + short(commit)
}

func openFollowUp(ctx context.Context, c *github.Client, pr PullRequest, r *ApplyResult, rf *RootFile) (string, bool, error) {
	merged, _, err := c.PullRequests.Get(ctx, pr.Owner, pr.Repo, pr.Number)
	if err != nil {
		return "", false, propose.APIError(fmt.Sprintf("reading pull request #%d", pr.Number), err)
	}
	base := merged.GetBase().GetRef()
	branch := FollowUpBranch(r.Root, r.Commit)
	open, _, err := c.PullRequests.List(ctx, pr.Owner, pr.Repo, &github.PullRequestListOptions{State: "open", Head: pr.Owner + ":" + branch})
	if err != nil {
		return "", false, propose.APIError("listing pull requests", err)
	}
	if len(open) > 0 {
		return open[0].GetHTMLURL(), true, nil
	}
	commit, _, err := c.Git.GetCommit(ctx, pr.Owner, pr.Repo, r.Commit)
	if err != nil {
		return "", false, propose.APIError("reading the merged commit "+short(r.Commit), err)
	}
	// A file in the root, so that the pull request touches it and the
	// workflow plans it (an empty commit would touch nothing).
	marker := fmt.Sprintf("The apply of %s after #%d at %s did not finish: %s follows it up.\n", r.Root, pr.Number, r.Commit, branch)
	tree, _, err := c.Git.CreateTree(ctx, pr.Owner, pr.Repo, commit.GetTree().GetSHA(), []*github.TreeEntry{{
		Path: github.Ptr(path.Join(r.Root, FollowUpFile)), Mode: github.Ptr("100644"), Type: github.Ptr("blob"), Content: &marker,
	}})
	if err != nil {
		return "", false, propose.APIError("creating the follow-up commit's tree", err)
	}
	msg := fmt.Sprintf("kube infra: follow up the failed apply of %s\n\nThe apply after #%d did not finish.", r.Root, pr.Number)
	followUp, _, err := c.Git.CreateCommit(ctx, pr.Owner, pr.Repo, github.Commit{Message: &msg, Tree: tree, Parents: []*github.Commit{{SHA: github.Ptr(r.Commit)}}}, nil)
	if err != nil {
		return "", false, propose.APIError("creating the follow-up commit", err)
	}
	if _, _, err := c.Git.CreateRef(ctx, pr.Owner, pr.Repo, github.CreateRef{Ref: "refs/heads/" + branch, SHA: followUp.GetSHA()}); err != nil {
		var e *github.ErrorResponse
		if !errors.As(err, &e) || e.Response == nil || e.Response.StatusCode != http.StatusUnprocessableEntity {
			return "", false, propose.APIError("creating branch "+branch, err)
		}
		// The branch is there from an earlier run whose pull request was closed: open it again.
	}
	title := fmt.Sprintf("Follow up the failed apply of %s (#%d)", r.Root, pr.Number)
	created, _, err := c.PullRequests.Create(ctx, pr.Owner, pr.Repo, &github.NewPullRequest{
		Title: &title, Head: &branch, Base: &base, Body: github.Ptr(followUpBody(r, pr, rf)),
	})
	if err != nil {
		return "", false, propose.APIError("opening the follow-up pull request", err)
	}
	return created.GetHTMLURL(), false, nil
}

func followUpBody(r *ApplyResult, pr PullRequest, rf *RootFile) string {
	var b strings.Builder
	what := "failed"
	if r.Refused != "" {
		what = "was refused: " + r.Refused
	}
	fmt.Fprintf(&b, "The apply of `%s` after #%d %s.\n\n", r.Root, pr.Number, what)
	if r.Error != "" {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", fence(cut(r.Error, 4000)))
	}
	b.WriteString("Part of the change may be applied; the state records what was. Push the fix to this branch: the workflow plans the root again from the state as it is now, and the merge applies it.\n")
	if rf.Team != "" {
		fmt.Fprintf(&b, "\nOwner: %s.\n", rf.Team)
	}
	return b.String()
}

// notify tells the root's channel; it returns the channel and, if the team
// could not be told, why (a follow-up is still open, so this is not an error).
func notify(ctx context.Context, o FollowUpOptions, rf *RootFile, r *ApplyResult, pr PullRequest, followUp string) (string, string) {
	if rf.Slack == "" {
		return "", "the root's kube-infra.yaml names no slack channel"
	}
	if o.SlackWebhooks == "" {
		return rf.Slack, "no --slack-webhooks file"
	}
	data, err := os.ReadFile(o.SlackWebhooks)
	if err != nil {
		return rf.Slack, err.Error()
	}
	hooks := map[string]string{}
	if err := yaml.UnmarshalStrict(data, &hooks); err != nil {
		return rf.Slack, fmt.Sprintf("%s is not a map of channel to webhook URL", o.SlackWebhooks)
	}
	hook := strings.TrimSpace(hooks[strings.TrimPrefix(rf.Slack, "#")])
	if hook == "" {
		return rf.Slack, fmt.Sprintf("%s has no webhook for %s (key %q)", o.SlackWebhooks, rf.Slack, strings.TrimPrefix(rf.Slack, "#"))
	}
	text := fmt.Sprintf(":x: The apply of `%s` after %s/%s#%d did not finish. Follow-up: %s", r.Root, pr.Owner, pr.Repo, pr.Number, followUp)
	if o.LogURL != "" {
		text += " · log: " + secrets.RedactURL(o.LogURL)
	}
	client := o.Slack
	if client == nil {
		client = &slack.Client{}
	}
	if _, err := client.Send(ctx, hook, slack.Message{Text: text, Blocks: []slack.Block{{Type: "section", Text: &slack.Text{Type: "mrkdwn", Text: text}}}}); err != nil {
		return rf.Slack, secrets.RedactURLsIn(err.Error())
	}
	return rf.Slack, ""
}

func readApplyResult(dir string) (*ApplyResult, error) {
	data, err := os.ReadFile(filepath.Join(dir, ApplyFile))
	if err != nil {
		return nil, exitstatus.Input(fmt.Errorf("%s: no apply result (run kube infra apply --plan %s first): %w", dir, dir, err))
	}
	var r ApplyResult
	if err := json.Unmarshal(data, &r); err != nil || r.Root == "" {
		return nil, exitstatus.Input(fmt.Errorf("%s: not an apply result", filepath.Join(dir, ApplyFile)))
	}
	return &r, nil
}
