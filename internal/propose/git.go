package propose

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kube-idp/kube/internal/secrets"
)

// Identity is who kube's commits are by.
type Identity struct{ Name, Email string }

// git runs git (the real one: what CI machines and laptops have) in one work
// directory. The forge token reaches git as an http.extraHeader scoped to the
// repository's own scheme and host, through GIT_CONFIG_* environment
// variables: never in arguments (other users of the machine can read those),
// never sent to another host, and never in what kube prints.
type git struct {
	dir    string
	env    []string
	token  string
	header string
	// spent adds up the time in git, for the benchmark's split.
	spent *atomic.Int64
}

func newGit(dir, remote, token string, id Identity, spent *atomic.Int64) *git {
	g := &git{dir: dir, token: token, spent: spent}
	g.env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
		"GIT_AUTHOR_NAME="+id.Name, "GIT_AUTHOR_EMAIL="+id.Email, "GIT_COMMITTER_NAME="+id.Name, "GIT_COMMITTER_EMAIL="+id.Email)
	if token != "" {
		if u, err := url.Parse(remote); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
			g.header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
			n, _ := strconv.Atoi(os.Getenv("GIT_CONFIG_COUNT"))
			g.env = append(g.env, "GIT_CONFIG_COUNT="+strconv.Itoa(n+1),
				fmt.Sprintf("GIT_CONFIG_KEY_%d=http.%s://%s/.extraHeader", n, u.Scheme, u.Host),
				fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", n, g.header))
		}
	}
	return g
}

// run returns git's standard output, trimmed; an error carries its standard
// error, with every credential hidden.
func (g *git) run(ctx context.Context, args ...string) (string, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = g.dir, g.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if g.spent != nil {
		g.spent.Add(int64(time.Since(start)))
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], g.redact(lastLines(msg, 4)))
	}
	return strings.TrimSpace(out.String()), nil
}

// redact hides the token (and the header carrying it) and any URL's user
// information in git's messages.
func (g *git) redact(s string) string {
	if g.header != "" {
		s = strings.ReplaceAll(s, g.header, "Authorization: ***")
	}
	if g.token != "" {
		s = strings.ReplaceAll(s, g.token, "***")
	}
	return secrets.RedactURLsIn(s)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
