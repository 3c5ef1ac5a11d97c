package infra

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func planSummary() *Summary {
	return &Summary{Root: "envs/prod/db", Commit: "0123456789abcdef0123", Status: StatusChanges,
		Changes:  Changes{Create: []string{"a.b"}, Update: []string{}, Delete: []string{"aws_db_instance.old"}, Replace: []string{"aws_s3_bucket.logs"}},
		Tags:     TagReport{Problems: []TagProblem{{Address: "module.m.aws_s3_bucket.x", Module: "module.m", Verdict: TagsMissing, Missing: []string{"team"}}}, Failed: true},
		Approval: ApprovalReport{Needed: []string{"aws_db_instance.old"}, Label: "infra-approved-destroy"},
		Failed:   true}
}

func TestCommentListsEveryProblemDeleteAndReplace(t *testing.T) {
	c := Comment(planSummary(), "the plan\n```\nnot a fence", "")
	for _, want := range []string{
		CommentMarker("envs/prod/db") + "\n",
		"1 to create, 0 to update, 1 to replace, 1 to delete",
		"will not be applied",
		"- :x: `module.m.aws_s3_bucket.x` lacks `team` (in `module.m`)",
		"needs the `infra-approved-destroy` label",
		"- delete `aws_db_instance.old`",
		"- replace `aws_s3_bucket.logs`",
		"<details><summary>Full plan</summary>",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("comment lacks %q:\n%s", want, c)
		}
	}
	if strings.Count(c, "```") != 2 {
		t.Errorf("the plan's own fence closed the code block:\n%s", c)
	}
}

// A plan longer than GitHub takes is cut on a line, within the limit (in
// characters, not bytes), and says where the whole plan is.
func TestCommentCutsALongPlanToGitHubsLimit(t *testing.T) {
	line := strings.Repeat("é", 99) + "\n" // two bytes a character
	plan := strings.Repeat(line, 2000)     // 200,000 characters
	c := Comment(planSummary(), plan, "https://github.com/acme/infra/actions/runs/7?token=x")
	if n := utf8.RuneCountInString(c); n > CommentLimit || n < CommentLimit-200 {
		t.Fatalf("comment has %d characters", n)
	}
	if !strings.Contains(c, "whole in [the job's log](https://github.com/acme/infra/actions/runs/7?token=") || strings.Contains(c, "token=x") {
		t.Errorf("the cut note:\n%s", c[len(c)-400:])
	}
	body := c[strings.Index(c, "```\n")+4 : strings.LastIndex(c, "\n```")]
	if !strings.HasSuffix(body, strings.TrimSuffix(line, "\n")) {
		t.Error("the plan was cut inside a line")
	}
	short := Comment(planSummary(), line, "")
	if strings.Contains(short, "cut here") {
		t.Error("a short plan was cut")
	}
}

func TestCommentOfAFailedPlanAndOfAnApply(t *testing.T) {
	s := &Summary{Root: "r", Commit: "abc", Status: StatusFailed, Error: "Error: no such resource", Failed: true}
	if c := Comment(s, "", ""); !strings.Contains(c, "The plan failed") || !strings.Contains(c, "Error: no such resource") {
		t.Errorf("failed plan:\n%s", c)
	}
	for _, tc := range []struct {
		r    ApplyResult
		want string
	}{
		{ApplyResult{Root: "r", Commit: "abc", Applied: true}, "Applied"},
		{ApplyResult{Root: "r", Commit: "abc", Refused: "r changed"}, "Not applied** at abc: r changed"},
		{ApplyResult{Root: "r", Commit: "abc", Error: "Error: quota"}, "The apply failed"},
	} {
		c := applyComment(&tc.r, "")
		if !strings.HasPrefix(c, ApplyCommentMarker("r")+"\n") || !strings.Contains(c, tc.want) {
			t.Errorf("apply %+v:\n%s", tc.r, c)
		}
	}
}

func TestScrubberHidesEnvironmentCredentials(t *testing.T) {
	t.Setenv("CLOUD_SECRET_KEY", "abcdefgh12345678")
	t.Setenv("CLOUD_REGION", "eu-west-1-long-enough")
	got := newScrubber()("key abcdefgh12345678 in eu-west-1-long-enough")
	if strings.Contains(got, "abcdefgh12345678") || !strings.Contains(got, "eu-west-1-long-enough") {
		t.Errorf("scrubbed: %q", got)
	}
}
