package infra

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/kube-idp/kube/internal/secrets"
)

// CommentLimit is the most characters a GitHub comment may have.
const CommentLimit = 65536

// CommentMarker opens a root's comment, so that kube infra comment finds and
// updates it instead of adding another.
func CommentMarker(root string) string { return "<!-- kube-infra plan: " + root + " -->" }

// Comment is the pull request comment of a plan: the verdict, each rule's
// problem, every delete and replace, then the whole plan folded. A plan too
// long for GitHub is cut, with a link to the CI log that has it all.
func Comment(s *Summary, text, logURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### kube infra plan: `%s`\n\n", CommentMarker(s.Root), s.Root)
	switch s.Status {
	case StatusFailed:
		fmt.Fprintf(&b, ":x: **The plan failed** at %s: nothing can be applied until a plan succeeds.\n\n```\n%s\n```\n", short(s.Commit), fence(s.Error))
		return b.String()
	case StatusLocked:
		fmt.Fprintf(&b, ":lock: **Not planned**: %s.\n", s.Error)
		return b.String()
	case StatusNoChanges:
		fmt.Fprintf(&b, "**No changes** at %s.\n", short(s.Commit))
	default:
		c := s.Changes
		fmt.Fprintf(&b, "**Plan at %s: %d to create, %d to update, %d to replace, %d to delete.**\n", short(s.Commit), len(c.Create), len(c.Update), len(c.Replace), len(c.Delete))
	}
	if s.Failed {
		b.WriteString("\n:x: **This plan breaks a rule and will not be applied** until the change or the labels fix it and it is planned again.\n")
	}
	if len(s.Tags.Problems) > 0 {
		b.WriteString("\n#### Required tags\n\n")
		for _, p := range s.Tags.Problems {
			mark, what := ":x:", "lacks "+strings.Join(code(p.Missing), ", ")
			if p.Verdict == TagsNotATeam {
				what = fmt.Sprintf("is tagged with team `%s`, no team of the platform catalog", p.Team)
			}
			if p.Verdict == TagsUnknown {
				what = "has tags only known after apply"
				if !s.Tags.Failed {
					mark = ":warning:"
				}
			}
			fmt.Fprintf(&b, "- %s `%s` %s%s\n", mark, p.Address, what, inModule(p.Module))
		}
	}
	if p := s.Policies; len(p.Deny)+len(p.Warn) > 0 {
		b.WriteString("\n#### Policies\n\n")
		for _, m := range p.Deny {
			fmt.Fprintf(&b, "- :x: %s\n", oneLine(m.Message))
		}
		for _, m := range p.Warn {
			fmt.Fprintf(&b, "- :warning: %s\n", oneLine(m.Message))
		}
	}
	if n := s.Approval.Needed; len(n) > 0 {
		state := fmt.Sprintf(":x: needs the `%s` label", s.Approval.Label)
		if s.Approval.Approved {
			state = fmt.Sprintf(":white_check_mark: approved by the `%s` label", s.Approval.Label)
		}
		fmt.Fprintf(&b, "\n#### Approval\n\nDeletes or replaces a guarded resource type, %s:\n", state)
		for _, a := range n {
			fmt.Fprintf(&b, "- `%s`\n", a)
		}
	}
	if len(s.Changes.Delete)+len(s.Changes.Replace) > 0 {
		b.WriteString("\n#### Deleted and replaced\n\n")
		for _, a := range s.Changes.Delete {
			fmt.Fprintf(&b, "- delete `%s`\n", a)
		}
		for _, a := range s.Changes.Replace {
			fmt.Fprintf(&b, "- replace `%s`\n", a)
		}
	}
	return fit(b.String(), "Full plan", text, logURL)
}

// fit appends text (the plan, an error), folded, cutting it so that the comment stays within
// GitHub's limit; a cut plan ends with where to read the rest.
func fit(head, title, text, logURL string) string {
	if text == "" {
		return head
	}
	open, close := "\n<details><summary>"+title+"</summary>\n\n```\n", "\n```\n</details>\n"
	where := "the job's log"
	if logURL != "" {
		where = fmt.Sprintf("[the job's log](%s)", secrets.RedactURL(logURL))
	}
	cutNote := fmt.Sprintf("\n… cut here to fit GitHub's limit: it is whole in %s and in the job's artifact.\n", where)
	body := fence(text)
	room := CommentLimit - utf8.RuneCountInString(head) - len(open) - len(close)
	if utf8.RuneCountInString(body) <= room {
		return head + open + body + close
	}
	room -= utf8.RuneCountInString(cutNote)
	if room < 0 {
		return head
	}
	runes := []rune(body)[:room]
	if i := strings.LastIndexByte(string(runes), '\n'); i > 0 {
		return head + open + string(runes)[:i] + close + cutNote
	}
	return head + open + string(runes) + close + cutNote
}

// oneLine keeps a policy's message to one list item.
func oneLine(text string) string { return strings.Join(strings.Fields(text), " ") }

// fence keeps text from closing the code block it is in.
func fence(text string) string { return strings.ReplaceAll(text, "```", "`\u200b``") }

func short(commit string) string { return commit[:min(len(commit), 12)] }

func code(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "`" + k + "`"
	}
	return out
}

func inModule(m string) string {
	if m == "" {
		return ""
	}
	return " (in `" + m + "`)"
}

// newScrubber hides credentials in text kube writes: what looks like one
// (secrets.Redact), and the value of every environment variable named like
// one (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN), wherever it shows up.
func newScrubber() func(string) string {
	var values []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if secrets.IsSecretName(k) && len(v) >= 8 {
			values = append(values, v)
		}
	}
	return func(text string) string {
		for _, v := range values {
			text = strings.ReplaceAll(text, v, secrets.Redacted)
		}
		return secrets.Redact(text)
	}
}

// ApplyCommentMarker opens the comment of a root's apply on the merged pull request.
func ApplyCommentMarker(root string) string { return "<!-- kube-infra apply: " + root + " -->" }

// applyComment is the merged pull request's comment after an apply.
func applyComment(r *ApplyResult, logURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### kube infra apply: `%s`\n\n", ApplyCommentMarker(r.Root), r.Root)
	switch {
	case r.Applied:
		fmt.Fprintf(&b, ":white_check_mark: **Applied** at %s.\n", short(r.Commit))
		return b.String()
	case r.Refused != "":
		fmt.Fprintf(&b, ":no_entry: **Not applied** at %s: %s. Nothing ran; a new pull request (or a re-run of the plan) brings a plan that matches.\n", short(r.Commit), r.Refused)
		return b.String()
	}
	fmt.Fprintf(&b, ":x: **The apply failed** at %s. Part of the change may be applied: the state has what was. Fix forward with a new pull request; its plan starts from the state as it is now.\n", short(r.Commit))
	return fit(b.String(), "Error", r.Error, logURL)
}
