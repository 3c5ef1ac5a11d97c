package propose

import (
	"fmt"
	"strings"
)

// ParseRepos reads a fleet file: one repository per line, a URL
// (https://github.com/acme/billing.git, git@github.com:acme/billing.git) or a
// local clone's path; blank lines and #-comments are ignored. name prefixes
// errors, which give the line.
func ParseRepos(name, text string) ([]string, error) {
	var out []string
	seen := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		if c := strings.Index(line, "#"); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "-") {
			return nil, fmt.Errorf("%s:%d: %q: a repository is a URL or a path, never an option", name, i+1, line)
		}
		if strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("%s:%d: %q: one repository per line", name, i+1, line)
		}
		if strings.Contains(line, "://") || strings.Contains(line, "@") {
			if _, err := ParseRepo(line); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
			}
		}
		if first, ok := seen[line]; ok {
			return nil, fmt.Errorf("%s:%d: %s is already on line %d", name, i+1, line, first)
		}
		seen[line] = i + 1
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no repositories", name)
	}
	return out, nil
}
