package propose

import (
	"fmt"
	"strings"
)

// BranchPrefix starts every branch kube pushes; the template version ends it.
const BranchPrefix = "kube-generate/templates-v"

// trailer marks kube's commits (with kube's committer identity): a branch
// holding any other commit is a person's and is left alone.
const trailer = "Kube-Generate-Templates"

// maxListed bounds the files listed in a body (GitHub takes 65,536
// characters): the rest are counted.
const maxListed = 150

// Title of the pull request.
func Title(c *Changes) string {
	return fmt.Sprintf("Regenerate kubernetes/ with kube's templates %s", c.To)
}

// CommitMessage of kube's commit.
func CommitMessage(c *Changes) string {
	return fmt.Sprintf("%s\n\n%s\n\n%s: %s\n", Title(c), summary(c), trailer, c.To)
}

func summary(c *Changes) string {
	from := "a first generation"
	if len(c.From) > 0 {
		from = "templates " + strings.Join(c.From, ", ")
	}
	return fmt.Sprintf("kube generate --update, run by the platform's daily job, writes %d file(s) differently than %s did.", c.Files(), from)
}

// Body is the pull request's description: what changed and why, and how to
// reproduce it.
func Body(c *Changes, base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The platform's templates for generated manifests are now **%s**", c.To)
	if len(c.From) > 0 {
		fmt.Fprintf(&b, " (this repository's files were written with **%s**)", strings.Join(c.From, ", "))
	}
	fmt.Fprintf(&b, ". %s Nothing in `kube-generate.yaml` changed: review the result as you would your own change; merging it deploys through your usual pipeline.\n\n", summary(c))
	b.WriteString("| cluster | added | changed | removed |\n|---|---:|---:|---:|\n")
	for _, cl := range c.Clusters {
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", cl.Cluster, len(cl.Added), len(cl.Changed), len(cl.Removed))
	}
	if len(c.APIs) > 0 {
		b.WriteString("\n### Objects written through another API\n\nThese follow a Kubernetes API removal or replacement; check that your clusters serve the new one (`kube upgrade check`).\n\n")
		for _, a := range c.APIs {
			fmt.Fprintf(&b, "- `%s`: %s → %s\n", a.File, a.From, a.To)
		}
	}
	b.WriteString("\n<details><summary>Files</summary>\n\n")
	listed := 0
	for _, cl := range c.Clusters {
		for _, group := range []struct {
			what  string
			files []string
		}{{"added", cl.Added}, {"changed", cl.Changed}, {"removed", cl.Removed}} {
			for _, f := range group.files {
				if listed == maxListed {
					break
				}
				fmt.Fprintf(&b, "- `%s` (%s)\n", f, group.what)
				listed++
			}
		}
	}
	if n := c.Files(); n > listed {
		fmt.Fprintf(&b, "- and %d more\n", n-listed)
	}
	fmt.Fprintf(&b, "\n</details>\n\n### Reproduce locally\n\n```sh\ngit switch %s && git pull\nkube generate --update   # with kube's templates %s\ngit diff -- kubernetes/\n```\n\nThis pull request is kept up to date by `kube generate --update --propose`: it is rewritten on each run while the templates differ, and closed when nothing is left to change. A commit of your own on its branch stops that (kube then leaves the branch alone).\n", base, c.To)
	return b.String()
}
