package propose

import "context"

// Forge is where pull requests live: GitHub today (github.go), behind this
// interface so that GitLab's merge requests can follow.
type Forge interface {
	// OpenPullRequests lists the repository's open pull requests whose head
	// branch starts with prefix (kube's branches).
	OpenPullRequests(ctx context.Context, repo Repo, prefix string) ([]PullRequest, error)
	// ClosedUnmerged finds a pull request from head that was closed without
	// being merged (a person's "no"), if any.
	ClosedUnmerged(ctx context.Context, repo Repo, head string) (PullRequest, bool, error)
	// Create opens a pull request from head into base.
	Create(ctx context.Context, repo Repo, pr NewPullRequest) (PullRequest, error)
	// Update rewrites an open pull request's title and body and adds labels.
	Update(ctx context.Context, repo Repo, number int, pr NewPullRequest) error
	// Close comments on a pull request, then closes it.
	Close(ctx context.Context, repo Repo, number int, comment string) error
}

// Repo names a repository on its forge.
type Repo struct {
	Owner, Name string
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// PullRequest is an open pull request.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	Head   string `json:"head"`
	Body   string `json:"-"`
}

// NewPullRequest is what kube proposes.
type NewPullRequest struct {
	Title, Body, Head, Base string
	Labels                  []string
	// TeamReviewers are team slugs asked to review (on creation).
	TeamReviewers []string
}
