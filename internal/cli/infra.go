package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-idp/kube/internal/infra"
)

// InfraOptions are what every kube infra command has.
type InfraOptions struct {
	IO     *IOStreams
	Repo   string
	Output string
	// Action is the subcommand (targets, tags); Args its arguments.
	Action string
	Args   []string
	// Base and Head are targets' refs; Schemas is tags' provider schemas.
	Base, Head, Schemas string
	// Plan, apply and comment.
	Out, Tool, LogURL, PlanDir, LockTimeout string
	Labels                                  []string
	Comment                                 infra.CommentOptions
	// SlackWebhooks is follow-up's file of channel webhooks.
	SlackWebhooks string
	// Commit is replan's applied commit.
	Commit string
	// Catalog is the platform catalog the team tag is checked against.
	Catalog string
	// PoliciesFrom is the git ref plan and policy read the Rego policies from.
	PoliciesFrom string
	// Cluster connects to the cluster of the pull request locks (-c, --kubeconfig).
	Cluster func() (kubernetes.Interface, error)
}

// lock is what plan, apply and unlock need of the pull request locks.
func (o *InfraOptions) lock() infra.LockOptions {
	return infra.LockOptions{PR: o.Comment.PR, Cluster: o.Cluster}
}

func newInfraCmd(f *Factory, runF func(context.Context, *InfraOptions) error) *cobra.Command {
	o := &InfraOptions{IO: f.IO, Cluster: func() (kubernetes.Interface, error) {
		t, _, err := f.ResolveCluster()
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(t.Config)
	}}
	cmd := &cobra.Command{
		Use:   "infra",
		Short: "Infrastructure self-service with OpenTofu: which roots a change touches, required tags on every plan",
		Long: `Product teams change cloud resources in a repository of OpenTofu (or Terraform)
roots and modules; a plan is reviewed on the pull request, applied after merge.
A root is a directory with a kube-infra.yaml (it may be empty); the one at the
repository's top names the tool and its exact version, the tags every resource
must carry, and the destroys that need an approval label.

OpenTofu does init, plan, apply, providers, state and state locks; CI runs the
jobs; kube decides which roots a change touches and whether a plan keeps the
rules. docs/infra.md.`,
	}
	action := func(name string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			o.Action, o.Args = name, args
			return or(runF, runInfra)(c.Context(), o)
		}
	}
	cmd.PersistentFlags().StringVarP(&o.Repo, "repo", "C", ".", "the infrastructure repository")
	targets := &cobra.Command{
		Use:   "targets --base REF",
		Short: "The roots a change touches (through local modules, tfvars and lock files), as a CI job matrix",
		Long: `List the roots that HEAD (or --head) changes since its merge base with --base: a
root is touched by any change inside it (.tf, .tfvars, .terraform.lock.hcl,
kube-infra.yaml) or inside a local module it uses, directly or through other
modules. A root that the change deletes is listed with deleted: true.

-o json prints {"include": [{"root": ..., "why": [...]}]}, a GitHub Actions matrix.`,
		Example: `  kube infra targets --base origin/main
  kube infra targets --base origin/main -o json   # strategy.matrix of the plan job`,
		Args: cobra.NoArgs,
		RunE: action("targets"),
	}
	targets.Flags().StringVar(&o.Base, "base", "", "the branch the change goes to (e.g. origin/main)")
	targets.Flags().StringVar(&o.Head, "head", "HEAD", "the change")
	outputFlag(targets, &o.Output)
	tags := &cobra.Command{
		Use:   "tags PLAN_JSON",
		Short: "Check a plan's created and updated resources for the required tags (exit 1 if one lacks them)",
		Long: `Read a plan's JSON (tofu show -json PLAN) and check every created, updated or
replaced resource that can carry tags for the keys requiredTags lists in the
repository's kube-infra.yaml. The tags are the plan's, not the code's: tags_all
(which includes the provider's default_tags) when the resource has it, else tags.
Tags only known after apply are their own verdict (unknownTags: warn or fail).
With --schemas (tofu providers schema -json), taggable means the provider's
schema has a tags attribute; without, that the plan shows one.`,
		Example: `  tofu show -json plan.out > plan.json && kube infra tags plan.json -C ../..`,
		Args:    cobra.ExactArgs(1),
		RunE:    action("tags"),
	}
	tags.Flags().StringVar(&o.Schemas, "schemas", "", "provider schemas (tofu providers schema -json)")
	tags.Flags().StringVar(&o.Catalog, "catalog", "", "the platform catalog (a platform repository's platform/) whose teams teamTag must name")
	outputFlag(tags, &o.Output)
	plan := &cobra.Command{
		Use:   "plan ROOT",
		Short: "Plan a root: init and plan, then the rules (tags, approval), the comment and what apply will check",
		Long: `Run init and plan in ROOT with the tool and exact version kube-infra.yaml pins
(found on PATH, or --tool), and write into --out, replacing it as a whole:

  plan.tfplan    the saved plan, which kube infra apply applies as it is
  plan.json      tofu show -json of it; plan.txt, tofu show of it
  summary.json   the verdict: changes, required tags, approval
  comment.md     the pull request comment (kube infra comment posts it)
  metadata.json  the commit, the git trees of the root and its local modules,
                 the tool's version, the lock file's and the plan's checksums

A plan that fails, or breaks a rule (a missing tag, a guarded destroy without
the approval label), gets a summary and a comment but no plan file and no
metadata: there is nothing to apply. Credentials (what looks like one, and the
values of environment variables named like one) are hidden in every text kube
writes; the plan file itself is the tool's and holds what the plan holds.

Exit codes: 0 the plan can be applied, 1 it failed or breaks a rule, 2 bad input
(not a root, no tool, another version than the pinned one).`,
		Example: `  kube infra plan envs/prod/db --out plan-out
  kube infra plan envs/prod/db --out plan-out --labels "$LABELS"   # the pull request's`,
		Args:        cobra.ExactArgs(1),
		RunE:        action("plan"),
		Annotations: map[string]string{childStops: "tofu"},
	}
	plan.Flags().StringVar(&o.Out, "out", "kube-infra-plan", "the directory to write (CI keeps it as the job's artifact)")
	plan.Flags().StringSliceVar(&o.Labels, "labels", nil, "the pull request's labels (the approval rule looks for its label)")
	plan.Flags().StringVar(&o.Catalog, "catalog", "", "the platform catalog (a platform repository's platform/) whose teams teamTag must name")
	plan.Flags().StringVar(&o.PoliciesFrom, "policies-from", "", "read the Rego policies from this git ref (the branch the pull request goes to), not from the working tree")
	// tofuFlags are plan's and apply's.
	tofuFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&o.Tool, "tool", "", "the tool's path (default: the pinned tool on PATH)")
		c.Flags().StringVar(&o.LogURL, "log-url", actionsRunURL(), "where CI shows this run (default: the GitHub Actions run)")
		outputFlag(c, &o.Output)
	}
	tofuFlags(plan)
	plan.Flags().IntVar(&o.Comment.PR, "pr", 0, "the pull request (with lock: pull-request, it takes the root's lock)")
	apply := &cobra.Command{
		Use:   "apply ROOT --plan DIR",
		Short: "Apply a reviewed plan after merge, if it still matches what is merged",
		Long: `Apply the plan kube infra plan wrote into DIR, after checking that it is what was
reviewed and still what is merged: the same root, the same git trees of the root
and its local modules at HEAD, the same tool version and dependency lock file,
and the plan file unchanged. OpenTofu then refuses a plan whose state moved on
(another apply came first), and serialises applies with the state backend's lock.

The result goes into DIR too (apply.json, and apply.md for kube infra comment
--apply). Exit codes: 0 applied, 1 refused (nothing ran) or the apply failed,
2 bad input (no plan in DIR: its plan failed or broke a rule).`,
		Example:     `  kube infra apply envs/prod/db --plan plan-out --lock-timeout 10m`,
		Args:        cobra.ExactArgs(1),
		RunE:        action("apply"),
		Annotations: map[string]string{childStops: "tofu"},
	}
	apply.Flags().StringVar(&o.PlanDir, "plan", "", "kube infra plan's output directory")
	apply.Flags().StringVar(&o.LockTimeout, "lock-timeout", "10m", "how long to wait for the state's lock (another apply)")
	tofuFlags(apply)
	apply.Flags().IntVar(&o.Comment.PR, "pr", 0, "the merged pull request (with lock: pull-request, its lock is released)")
	comment := &cobra.Command{
		Use:   "comment DIR --pr NUMBER",
		Short: "Post a root's plan (or apply) comment on its pull request, updating the earlier one",
		Long: `Post comment.md from kube infra plan's output directory on the pull request,
in place of the root's earlier comment (one comment per root, however often it
is planned); with --apply, the apply's result on the merged pull request. The
token is $GITHUB_TOKEN (pull-requests: write), the API $GITHUB_API_URL.`,
		Example: `  kube infra comment plan-out --pr 42 --repository acme/infra`,
		Args:    cobra.ExactArgs(1),
		RunE:    action("comment"),
	}
	comment.Flags().IntVar(&o.Comment.PR, "pr", 0, "the pull request's number")
	comment.Flags().StringVar(&o.Comment.Repository, "repository", os.Getenv("GITHUB_REPOSITORY"), "owner/name on GitHub")
	comment.Flags().BoolVar(&o.Comment.Apply, "apply", false, "post the apply's result instead of the plan")
	outputFlag(comment, &o.Output)
	followUp := &cobra.Command{
		Use:   "follow-up ROOT --plan DIR --pr NUMBER",
		Short: "After a failed or refused apply: open a follow-up pull request and tell the root's team on Slack",
		Long: `Read the apply's result in DIR (kube infra apply writes it) and, if the apply did
not finish, open a follow-up pull request from the merged commit (it adds
ROOT/.kube-infra-follow-up, so the workflow plans the root again and the fix has a
place; a re-run finds the open one), and tell the channel the root's
kube-infra.yaml names (slack: '#payments-infra') through the webhook that
--slack-webhooks maps it to: a YAML map of channel (without #) to incoming
webhook URL, the same keys as kube-controller's slack-webhooks Secret.

The token is $GITHUB_TOKEN (contents: write, pull-requests: write). An apply
that succeeded needs nothing (exit 0). A channel that cannot be told is said,
not an error: the follow-up pull request is open.`,
		Example: `  kube infra follow-up envs/prod/db --plan plan-out --pr 42 --slack-webhooks hooks.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE:    action("follow-up"),
	}
	followUp.Flags().StringVar(&o.PlanDir, "plan", "", "the plan's directory, with the apply's result")
	followUp.Flags().IntVar(&o.Comment.PR, "pr", 0, "the merged pull request's number")
	followUp.Flags().StringVar(&o.Comment.Repository, "repository", os.Getenv("GITHUB_REPOSITORY"), "owner/name on GitHub")
	followUp.Flags().StringVar(&o.SlackWebhooks, "slack-webhooks", "", "YAML file: channel (without #) to incoming webhook URL")
	followUp.Flags().StringVar(&o.LogURL, "log-url", actionsRunURL(), "where CI shows this run (default: the GitHub Actions run)")
	outputFlag(followUp, &o.Output)
	replan := &cobra.Command{
		Use:   "replan ROOT --after NUMBER",
		Short: "After an apply: ask the open pull requests planned against the same root to plan again",
		Long: `Find every open pull request with a plan comment of ROOT (other than the one
just applied, --after), mark that comment stale (its apply would be refused: the
state moved on) and set the kube-infra-replan label afresh, so that the workflow
plans it again from the new state.

The token is $GITHUB_TOKEN (pull-requests: write). Labels set with a workflow's
own GITHUB_TOKEN start no workflow run (GitHub's rule): use a GitHub App's token
for the label to re-plan by itself.`,
		Example: `  kube infra replan envs/prod/db --after 42`,
		Args:    cobra.ExactArgs(1),
		RunE:    action("replan"),
	}
	replan.Flags().IntVar(&o.Comment.PR, "after", 0, "the pull request whose apply it was")
	replan.Flags().StringVar(&o.Comment.Repository, "repository", os.Getenv("GITHUB_REPOSITORY"), "owner/name on GitHub")
	replan.Flags().StringVar(&o.Commit, "commit", os.Getenv("GITHUB_SHA"), "the applied commit")
	outputFlag(replan, &o.Output)
	policy := &cobra.Command{
		Use:   "policy PLAN_JSON",
		Short: "Check a plan's JSON with the repository's Rego policies (exit 1 on a deny)",
		Long: `Evaluate the Rego policies kube-infra.yaml names (policies: [policies/]) over a
plan's JSON (tofu show -json PLAN), as conftest does: package main, with deny (or
violation) rules that fail the plan and warn rules that only say. Files ending in
_test.rego are left out. kube infra plan runs the same check itself; this is for
plans made elsewhere.

With --policies-from REF the policies are read from git at REF (the branch the
pull request goes to), so that a pull request cannot loosen the policies it is
judged by.`,
		Example: `  kube infra policy plan.json --policies-from origin/main`,
		Args:    cobra.ExactArgs(1),
		RunE:    action("policy"),
	}
	policy.Flags().StringVar(&o.PoliciesFrom, "policies-from", "", "read the policies from this git ref, not from the working tree")
	outputFlag(policy, &o.Output)
	unlock := &cobra.Command{
		Use:   "unlock ROOT",
		Short: "Free a root's pull request lock (lock: pull-request)",
		Long: `Free the lock a pull request holds on ROOT from plan to merge (kube-infra.yaml's
lock: pull-request): with --pr, only if that pull request holds it (the workflow
runs this when a pull request is closed unmerged); without, whoever holds it. A
lock also expires by itself after lockTTL without a new plan. The Leases are on
the cluster -c or --kubeconfig names, in lockNamespace.`,
		Example: `  kube infra unlock envs/prod/db --kubeconfig ci.kubeconfig
  kube infra unlock envs/prod/db --pr 41 -c infra`,
		Args: cobra.ExactArgs(1),
		RunE: action("unlock"),
	}
	unlock.Flags().IntVar(&o.Comment.PR, "pr", 0, "free it only if this pull request holds it")
	outputFlag(unlock, &o.Output)
	cmd.AddCommand(targets, tags, plan, apply, comment, followUp, replan, policy, unlock)
	return cmd
}

// actionsRunURL is the GitHub Actions run's page, when kube runs in one.
func actionsRunURL() string {
	server, repo, run := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + run
}

// infraRuns are the kube infra subcommands' run functions, by name.
var infraRuns = map[string]func(context.Context, *InfraOptions) error{
	"targets":   runInfraTargets,
	"plan":      runInfraPlan,
	"apply":     runInfraApply,
	"comment":   runInfraComment,
	"unlock":    runInfraUnlock,
	"policy":    runInfraPolicy,
	"replan":    runInfraReplan,
	"follow-up": runInfraFollowUp,
	"tags":      runInfraTags,
}

func runInfra(ctx context.Context, o *InfraOptions) error { return infraRuns[o.Action](ctx, o) }

func runInfraTargets(ctx context.Context, o *InfraOptions) error {
	if o.Base == "" {
		return usageError{fmt.Errorf("name the branch the change goes to with --base (e.g. origin/main)")}
	}
	ts, err := infra.TargetsOf(ctx, o.Repo, o.Base, o.Head)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, infraMatrix{Include: ts}); done || err != nil {
		return err
	}
	if len(ts) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "The change touches no root.")
		return nil
	}
	t := o.IO.newTable("ROOT", "DELETED", "WHY")
	for _, x := range ts {
		t.row(x.Root, fmt.Sprint(x.Deleted), strings.Join(x.Why, ", "))
	}
	return t.print()
}

func runInfraPlan(ctx context.Context, o *InfraOptions) error {
	s, err := infra.Plan(ctx, infra.PlanOptions{Repo: o.Repo, Root: o.Args[0], Out: o.Out, Tool: o.Tool, Labels: o.Labels,
		PoliciesFrom: o.PoliciesFrom, LogURL: o.LogURL, Progress: o.IO.Progress(), Lock: o.lock()})
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, s); done || err != nil {
		return failedIf(s.Failed, err)
	}
	printPlanSummary(o.IO, s)
	return failedIf(s.Failed, nil)
}

func runInfraApply(ctx context.Context, o *InfraOptions) error {
	if o.PlanDir == "" {
		return usageError{fmt.Errorf("name the plan's directory with --plan (kube infra plan's --out)")}
	}
	r, err := infra.Apply(ctx, infra.ApplyOptions{Repo: o.Repo, Root: o.Args[0], PlanDir: o.PlanDir, Tool: o.Tool, LockTimeout: o.LockTimeout, LogURL: o.LogURL, Progress: o.IO.Progress(), Lock: o.lock()})
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, r); done || err != nil {
		return failedIf(!r.Applied, err)
	}
	switch {
	case r.Applied:
		fmt.Fprintf(o.IO.Out, "Applied %s at %s.\n", r.Root, r.Commit)
	case r.Refused != "":
		fmt.Fprintf(o.IO.ErrOut, "Not applied: %s.\n", r.Refused)
	default:
		fmt.Fprintf(o.IO.ErrOut, "The apply of %s failed:\n%s\n", r.Root, r.Error)
	}
	return failedIf(!r.Applied, nil)
}

func runInfraComment(ctx context.Context, o *InfraOptions) error {
	c := o.Comment
	c.Dir, c.Token, c.APIURL = o.Args[0], os.Getenv("GITHUB_TOKEN"), os.Getenv("GITHUB_API_URL")
	p, err := infra.Post(ctx, c)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, p); done || err != nil {
		return err
	}
	verb := "Commented"
	if p.Updated {
		verb = "Updated the comment"
	}
	fmt.Fprintf(o.IO.Out, "%s: %s\n", verb, p.URL)
	return nil
}

func runInfraUnlock(ctx context.Context, o *InfraOptions) error {
	freed, err := infra.Unlock(ctx, o.Repo, o.Args[0], o.lock())
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, infraUnlock{Root: o.Args[0], Unlocked: freed}); done || err != nil {
		return err
	}
	if freed {
		fmt.Fprintf(o.IO.Out, "Unlocked %s.\n", o.Args[0])
	} else if o.Comment.PR > 0 {
		fmt.Fprintf(o.IO.ErrOut, "%s was not locked by #%d.\n", o.Args[0], o.Comment.PR)
	} else {
		fmt.Fprintf(o.IO.ErrOut, "%s was not locked.\n", o.Args[0])
	}
	return nil
}

func runInfraPolicy(ctx context.Context, o *InfraOptions) error {
	r, err := infra.CheckPlanPolicies(ctx, o.Repo, o.PoliciesFrom, o.Args[0])
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, r); done || err != nil {
		return failedIf(r.Failed, err)
	}
	printPolicies(o.IO, r)
	fmt.Fprintf(o.IO.ErrOut, "%d polic(ies), %d deny, %d warn.\n", len(r.Policies), len(r.Deny), len(r.Warn))
	return failedIf(r.Failed, nil)
}

func runInfraReplan(ctx context.Context, o *InfraOptions) error {
	asked, err := infra.Replan(ctx, infra.ReplanOptions{Root: o.Args[0], Applied: o.Comment.PR, Commit: o.Commit,
		Repository: o.Comment.Repository, Token: os.Getenv("GITHUB_TOKEN"), APIURL: os.Getenv("GITHUB_API_URL")})
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, asked); done || err != nil {
		return err
	}
	for _, r := range asked {
		fmt.Fprintf(o.IO.Out, "#%d %s\n", r.Number, r.URL)
	}
	fmt.Fprintf(o.IO.ErrOut, "%d open pull request(s) asked to plan %s again.\n", len(asked), o.Args[0])
	return nil
}

func runInfraFollowUp(ctx context.Context, o *InfraOptions) error {
	if o.PlanDir == "" {
		return usageError{fmt.Errorf("name the plan's directory with --plan (where kube infra apply wrote its result)")}
	}
	f, err := infra.FollowUpAfterApply(ctx, infra.FollowUpOptions{Repo: o.Repo, Root: o.Args[0], PlanDir: o.PlanDir,
		Repository: o.Comment.Repository, PR: o.Comment.PR, Token: os.Getenv("GITHUB_TOKEN"), APIURL: os.Getenv("GITHUB_API_URL"),
		SlackWebhooks: o.SlackWebhooks, LogURL: o.LogURL})
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, f); done || err != nil {
		return err
	}
	if f.PullRequest == "" {
		fmt.Fprintf(o.IO.ErrOut, "The apply of %s succeeded: nothing to follow up.\n", f.Root)
		return nil
	}
	fmt.Fprintf(o.IO.Out, "Follow-up pull request: %s\n", f.PullRequest)
	if f.SlackProblem != "" {
		fmt.Fprintf(o.IO.ErrOut, "Slack not told: %s.\n", f.SlackProblem)
	} else {
		fmt.Fprintf(o.IO.Out, "Told %s.\n", f.Slack)
	}
	return nil
}

func runInfraTags(ctx context.Context, o *InfraOptions) error {
	r, err := infra.CheckPlanFile(o.Repo, o.Args[0], o.Schemas, o.Catalog)
	if err != nil {
		return err
	}
	if _, err := o.IO.structured(o.Output, r); err != nil {
		return err
	}
	if o.Output == outputText {
		for _, p := range r.Problems {
			fmt.Fprintf(o.IO.Out, "%s %s\n", p.Address, tagProblem(p))
		}
		fmt.Fprintf(o.IO.ErrOut, "%d resource(s) checked, %d problem(s).\n", r.Checked, len(r.Problems))
	}
	return failedIf(r.Failed, nil)
}

// printPlanSummary is kube infra plan's text output.
func printPlanSummary(io *IOStreams, s *infra.Summary) {
	c := s.Changes
	switch s.Status {
	case infra.StatusFailed:
		fmt.Fprintf(io.ErrOut, "The plan of %s failed:\n%s\n", s.Root, s.Error)
	case infra.StatusLocked:
		fmt.Fprintf(io.ErrOut, "Not planned: %s.\n", s.Error)
	case infra.StatusNoChanges:
		fmt.Fprintf(io.Out, "%s: no changes.\n", s.Root)
	default:
		fmt.Fprintf(io.Out, "%s: %d to create, %d to update, %d to replace, %d to delete.\n", s.Root, len(c.Create), len(c.Update), len(c.Replace), len(c.Delete))
	}
	for _, p := range s.Tags.Problems {
		fmt.Fprintf(io.Out, "tags: %s %s\n", p.Address, tagProblem(p))
	}
	printPolicies(io, s.Policies)
	if len(s.Approval.Needed) > 0 && !s.Approval.Approved {
		fmt.Fprintf(io.Out, "approval: %s needs the %s label\n", strings.Join(s.Approval.Needed, ", "), s.Approval.Label)
	}
	fmt.Fprintf(io.ErrOut, "Wrote %s.\n", s.Dir)
}

func printPolicies(io *IOStreams, r infra.PolicyReport) {
	for _, m := range r.Deny {
		fmt.Fprintf(io.Out, "deny: %s\n", m.Message)
	}
	for _, m := range r.Warn {
		fmt.Fprintf(io.Out, "warn: %s\n", m.Message)
	}
}

func tagProblem(p infra.TagProblem) string {
	switch p.Verdict {
	case infra.TagsUnknown:
		return "has tags only known after apply"
	case infra.TagsNotATeam:
		return fmt.Sprintf("is tagged with team %q, no team of the platform catalog", p.Team)
	}
	return "lacks " + strings.Join(p.Missing, ", ")
}

// failedIf is exit 1 when failed (and err is nil).
func failedIf(failed bool, err error) error {
	if err == nil && failed {
		return exitCode(exitFailure)
	}
	return err
}

// infraUnlock is kube infra unlock -o json.
type infraUnlock struct {
	Root     string `json:"root"`
	Unlocked bool   `json:"unlocked"`
}

// infraMatrix is kube infra targets -o json: a GitHub Actions matrix.
type infraMatrix struct {
	Include []infra.Target `json:"include"`
}
