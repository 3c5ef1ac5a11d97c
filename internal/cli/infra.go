package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

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
}

func newInfraCmd(f *Factory, runF func(context.Context, *InfraOptions) error) *cobra.Command {
	o := &InfraOptions{IO: f.IO}
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
	outputFlag(tags, &o.Output)
	cmd.AddCommand(targets, tags)
	return cmd
}

func runInfra(ctx context.Context, o *InfraOptions) error {
	switch o.Action {
	case "targets":
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
	default:
		r, err := infra.CheckPlanFile(o.Repo, o.Args[0], o.Schemas)
		if err != nil {
			return err
		}
		if _, err := o.IO.structured(o.Output, r); err != nil {
			return err
		}
		if o.Output == outputText {
			for _, p := range r.Problems {
				what := "lacks " + strings.Join(p.Missing, ", ")
				if p.Verdict == infra.TagsUnknown {
					what = "has tags only known after apply"
				}
				fmt.Fprintf(o.IO.Out, "%s %s\n", p.Address, what)
			}
			fmt.Fprintf(o.IO.ErrOut, "%d resource(s) checked, %d problem(s).\n", r.Checked, len(r.Problems))
		}
		if r.Failed {
			return exitCode(exitFailure)
		}
		return nil
	}
}

// infraMatrix is kube infra targets -o json: a GitHub Actions matrix.
type infraMatrix struct {
	Include []infra.Target `json:"include"`
}
