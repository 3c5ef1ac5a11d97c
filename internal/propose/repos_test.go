package propose

import (
	"context"
	"strings"
	"testing"
)

func TestParseRepos(t *testing.T) {
	got, err := ParseRepos("fleet.txt", "# the fleet\nhttps://github.com/acme/billing.git\n\ngit@github.com:acme/orders.git  # ssh\n../storefront\n")
	if err != nil || strings.Join(got, " ") != "https://github.com/acme/billing.git git@github.com:acme/orders.git ../storefront" {
		t.Fatalf("%q %v", got, err)
	}
	for text, want := range map[string]string{
		"a\na\n":                       "fleet.txt:2: a is already on line 1",
		"https://github.com/x\n":       "fleet.txt:1: https://github.com/x: cannot tell the repository's owner and name",
		"# nothing\n":                  "fleet.txt: no repositories",
		"--upload-pack=touch@x\n":      "fleet.txt:1: \"--upload-pack=touch@x\": a repository is a URL or a path, never an option",
		"https://github.com/a/b c/d\n": "fleet.txt:1: \"https://github.com/a/b c/d\": one repository per line",
	} {
		if _, err := ParseRepos("fleet.txt", text); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", text, err, want)
		}
	}
	for remote, want := range map[string]Repo{
		"https://github.com/acme/billing.git":    {"acme", "billing"},
		"https://ghe.example/org/team/app":       {"team", "app"},
		"git@github.com:acme/orders.git":         {"acme", "orders"},
		"http://127.0.0.1:8080/acme/shop.git/":   {"acme", "shop"},
		"ssh://git@github.com/acme/payments.git": {"acme", "payments"},
	} {
		if got, err := ParseRepo(remote); err != nil || got != want {
			t.Errorf("%s: %v %v", remote, got, err)
		}
	}
}

// Whatever a fleet file holds: no panic, and every repository returned is a
// single token that ParseRepo reads when it is a URL.
func FuzzParseRepos(f *testing.F) {
	f.Add("https://github.com/acme/billing.git\n# c\n../x\n")
	f.Add("git@h:a/b.git\nssh://h/a/b\n")
	f.Fuzz(func(t *testing.T, text string) {
		repos, err := ParseRepos("f", text)
		if err != nil {
			return
		}
		for _, r := range repos {
			if r == "" || strings.ContainsAny(r, " \t\n#") || strings.HasPrefix(r, "-") {
				t.Fatalf("entry %q", r)
			}
			if strings.Contains(r, "://") || strings.Contains(r, "@") {
				if _, err := ParseRepo(r); err != nil {
					t.Fatalf("%q accepted but: %v", r, err)
				}
			}
		}
	})
}

// A repository given on the command line is never an option to git.
func TestRemoteIsNeverAnOption(t *testing.T) {
	if _, err := remoteOf(context.Background(), "--upload-pack=touch /tmp/pwned@h"); err == nil {
		t.Fatal("an option-like repository was accepted")
	}
	if got, err := remoteOf(context.Background(), "https://github.com/acme/billing.git"); err != nil || got != "https://github.com/acme/billing.git" {
		t.Fatalf("%q %v", got, err)
	}
}
